"""Snapshot retention: a snapshot is stored only when it changes the table.

A table's key is the sha256 of its parameters, vote count and result without the timings (the fit is
deterministic for a fixed seed, so the same counted votes give the same key). A recompute whose key equals
the newest snapshot of the same kind (plain or style-controlled) stores nothing and records on that
snapshot that it is still current as of the newest vote (``last_vote_id``); ``prune_identical`` removes,
from snapshots stored before this rule, every one whose table equals the one before it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from arena_app.services.errors import storage_errors
from arena_app.storage import snapshot_queries as sq
from arena_app.storage.db import session_scope
from leaderboard.result import LeaderboardResult, SnapshotParams


def table_key(params: SnapshotParams, votes: int, result: LeaderboardResult) -> str:
    body = result.to_json()
    body.pop("timings", None)
    text = json.dumps({"params": params.to_json(), "votes": votes, "result": body}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Stored:
    snapshot_id: int
    stored: bool  # False: the newest snapshot already had this table (confirmed, nothing stored)


def store_or_confirm(
    s: Session,
    params: SnapshotParams,
    votes: int,
    result: LeaderboardResult,
    *,
    last_vote_id: int | None,
    votes_key: str | None,
    extra: Mapping[str, object] | None = None,
) -> Stored:
    """Store the snapshot, or confirm the newest one when it has the same table. ``extra``: more keys of
    the row's ``params`` (the counted and excluded totals, :mod:`arena_app.services.leaderboard_totals`)."""
    key = table_key(params, votes, result)
    style = params.compute.style_control and result.style is not None
    newest = sq.latest_head(s, params.category, style)
    if newest is not None and newest.table_key == key and last_vote_id is not None and votes_key is not None:
        sq.confirm_snapshot(s, newest.id, last_vote_id=last_vote_id, votes_key=votes_key)
        return Stored(newest.id, False)
    record = sq.save_snapshot(
        s,
        category=params.category,
        params={**params.to_json(), **(extra or {})},
        vote_count=votes,
        result=result.to_json(),
        style_control=style,
        last_vote_id=last_vote_id,
        votes_key=votes_key,
        table_key=key,
    )
    return Stored(record.id, True)


def unchanged_snapshot(
    s: Session, params: SnapshotParams, votes_key: str, extra: Mapping[str, object] | None = None
) -> int | None:
    """The newest snapshot of this kind when it was computed with these parameters (and ``extra``
    params keys) from exactly these counted votes (``votes_key``), else None. The stored excluded totals
    are not compared: they follow from the votes."""
    newest = sq.latest_head(s, params.category, params.compute.style_control)
    if newest is None or newest.votes_key != votes_key:
        return None
    kept = {k: v for k, v in newest.params.items() if k != "excluded"}
    if kept != {**params.to_json(), **(extra or {})}:
        return None
    return newest.id


def prune_identical(s: Session, category: str) -> int:
    """Delete every snapshot of ``category`` whose table equals the previous one of its kind; how many."""
    from arena_app.services.leaderboard_view import read_snapshot

    previous: dict[bool, str | None] = {}
    doomed: list[int] = []
    for snap_id, style, key in list(sq.snapshot_heads(s, category)):
        if key is None:  # stored before keys were recorded: compute it once
            record = sq.snapshot_by_id(s, snap_id)
            assert record is not None
            snap = read_snapshot(record)
            key = table_key(snap.params, snap.vote_count, snap.result)
            sq.set_table_key(s, snap_id, key)
        if previous.get(style) == key:
            doomed.append(snap_id)
        previous[style] = key
    return sq.delete_snapshots(s, doomed)


def prune_snapshots(session_factory: sessionmaker[Session], categories: list[str] | None) -> dict[str, int]:
    """:func:`prune_identical` for each category (None: all): deleted per category."""
    from arena_app.services.leaderboard_votes import checked_category, snapshot_categories

    with storage_errors(), session_scope(session_factory) as s:
        names = [checked_category(c) for c in categories] if categories else snapshot_categories(s)
        return {c: prune_identical(s, c) for c in names}
