"""Snapshot rows for the self-refreshing leaderboard: store one with the votes it was computed from,
confirm the newest instead of storing an identical table, the newest of a kind without its result, the
counted votes newer than a snapshot, and the pruning of identical snapshots.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from arena_app.storage import mapping, validation
from arena_app.storage.leaderboard_queries import VoteSelection, _counted
from arena_app.storage.models import Battle, LeaderboardSnapshot, Vote
from arena_app.storage.records import SnapshotRecord
from arena_app.storage.types import utcnow


@dataclass(frozen=True)
class SnapshotHead:
    """A snapshot row without its result."""

    id: int
    created_at: datetime
    params: dict[str, Any]
    vote_count: int
    last_vote_id: int | None
    votes_key: str | None
    table_key: str | None


def save_snapshot(
    s: Session,
    *,
    category: str,
    params: dict[str, Any],
    vote_count: int,
    result: dict[str, Any],
    style_control: bool,
    last_vote_id: int | None,
    votes_key: str | None,
    table_key: str | None,
) -> SnapshotRecord:
    row = LeaderboardSnapshot(
        created_at=utcnow(),
        category=validation.text("category", category, 64),
        params=params,
        vote_count=validation.count("vote_count", vote_count),
        result=result,
        style_control=style_control,
        last_vote_id=last_vote_id,
        votes_key=votes_key,
        table_key=table_key,
    )
    s.add(row)
    s.flush()
    return mapping.snapshot_record(row)


def confirm_snapshot(s: Session, snapshot_id: int, *, last_vote_id: int, votes_key: str) -> None:
    """The table of ``snapshot_id`` is still the table as of ``last_vote_id`` (nothing new is stored)."""
    s.execute(
        update(LeaderboardSnapshot)
        .where(LeaderboardSnapshot.id == snapshot_id)
        .values(last_vote_id=last_vote_id, votes_key=votes_key)
    )


def _newest(category: str, style_control: bool | None) -> Any:
    cond = [LeaderboardSnapshot.category == category]
    if style_control is not None:
        cond.append(LeaderboardSnapshot.style_control.is_(style_control))
    return cond, (LeaderboardSnapshot.created_at.desc(), LeaderboardSnapshot.id.desc())


def latest_head(s: Session, category: str, style_control: bool | None = None) -> SnapshotHead | None:
    """The newest snapshot of ``category`` (of that kind when ``style_control`` is given), no result."""
    cond, order = _newest(category, style_control)
    row = s.execute(
        select(
            LeaderboardSnapshot.id,
            LeaderboardSnapshot.created_at,
            LeaderboardSnapshot.params,
            LeaderboardSnapshot.vote_count,
            LeaderboardSnapshot.last_vote_id,
            LeaderboardSnapshot.votes_key,
            LeaderboardSnapshot.table_key,
        )
        .where(*cond)
        .order_by(*order)
        .limit(1)
    ).first()
    return None if row is None else SnapshotHead(*row)


def latest_snapshot(s: Session, category: str, style_control: bool | None = None) -> SnapshotRecord | None:
    """The newest snapshot of ``category`` (of that kind, when ``style_control`` is given)."""
    cond, order = _newest(category, style_control)
    row = s.scalar(select(LeaderboardSnapshot).where(*cond).order_by(*order).limit(1))
    return None if row is None else mapping.snapshot_record(row)


def snapshot_by_id(s: Session, snapshot_id: int) -> SnapshotRecord | None:
    row = s.get(LeaderboardSnapshot, snapshot_id)
    return None if row is None else mapping.snapshot_record(row)


def counted_votes_after(
    s: Session, selection: VoteSelection, *, after_id: int | None, after_time: datetime | None
) -> int:
    """Counted votes ``selection`` selects with an id above ``after_id`` (or, for snapshots that did not
    record it, cast after ``after_time``)."""
    joined = select(func.count()).select_from(Vote).join(Battle, Battle.id == Vote.battle_id)
    stmt = _counted(joined, selection)
    if after_id is not None:
        stmt = stmt.where(Vote.id > after_id)
    elif after_time is not None:
        stmt = stmt.where(Vote.created_at > after_time)
    return int(s.scalar(stmt) or 0)


def snapshot_heads(s: Session, category: str) -> Iterator[tuple[int, bool, str | None]]:
    """(id, style_control, table_key) of every snapshot of ``category``, oldest first."""
    stmt = (
        select(LeaderboardSnapshot.id, LeaderboardSnapshot.style_control, LeaderboardSnapshot.table_key)
        .where(LeaderboardSnapshot.category == category)
        .order_by(LeaderboardSnapshot.created_at, LeaderboardSnapshot.id)
    )
    for row in s.execute(stmt):
        yield int(row[0]), bool(row[1]), row[2]


def set_table_key(s: Session, snapshot_id: int, table_key: str) -> None:
    s.execute(
        update(LeaderboardSnapshot).where(LeaderboardSnapshot.id == snapshot_id).values(table_key=table_key)
    )


def delete_snapshots(s: Session, ids: list[int]) -> int:
    total = 0
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        res = s.execute(delete(LeaderboardSnapshot).where(LeaderboardSnapshot.id.in_(part)))
        total += int(res.rowcount or 0)  # type: ignore[attr-defined]
    return total
