"""Leaderboard workflows: recompute snapshots from the database, fit a battles file, and the latest view.

The math lives in :mod:`leaderboard` (pure); SQL in :mod:`arena_app.storage.leaderboard_queries`; reading a
category's votes in :mod:`arena_app.services.leaderboard_votes`. A stored snapshot is decoded in one place,
:func:`read_snapshot`. See docs/leaderboard.md for the method, the snapshot format and the view contract
used by the Leaderboard tab. Storage errors come out as :mod:`arena_app.services.errors`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import plotly.graph_objects as go
from sqlalchemy.orm import Session, sessionmaker

from arena_app.files.battle_columns import FileBattles
from arena_app.files.battle_files import read_battles
from arena_app.files.gc_pause import gc_paused
from arena_app.services.errors import storage_errors
from arena_app.services.leaderboard_votes import (
    ALL_CATEGORIES,
    InvalidLeaderboardRequest,
    checked_category,
    load_battle_data,
    requested_categories,
    snapshot_categories,
)
from arena_app.storage import api
from arena_app.storage.db import session_scope
from arena_app.storage.records import SnapshotRecord
from leaderboard.categories import OVERALL
from leaderboard.compute import BattleData, ComputeParams, LeaderboardResult, compute_leaderboard
from leaderboard.data import aggregate
from leaderboard.result import SnapshotParams

__all__ = [
    "ALL_CATEGORIES",
    "ComputeParams",
    "FileFitOutcome",
    "InvalidLeaderboardRequest",
    "LeaderboardRow",
    "LeaderboardView",
    "RecomputeOutcome",
    "RecomputeParams",
    "StoredSnapshot",
    "checked_category",
    "fit_file",
    "latest_snapshot",
    "latest_view",
    "read_snapshot",
    "recompute",
]

Progress = Callable[[str, int, int], None]  # (stage, done, total)


# ------------------------------------------------------------------------------------------ recompute


@dataclass(frozen=True)
class RecomputeParams:
    categories: tuple[str, ...] = (OVERALL,)  # or ("all",): every built-in category and stored tag
    compute: ComputeParams = field(default_factory=lambda: ComputeParams(style_control=True))
    online_elo: bool = True


@dataclass(frozen=True)
class RecomputeOutcome:
    category: str
    vote_count: int
    snapshot_id: int | None  # None when the category has no counted votes (nothing stored)
    result: LeaderboardResult | None  # None when the category has no counted votes (nothing computed)
    seconds: float


@dataclass(frozen=True)
class _Loaded:
    category: str
    data: BattleData
    votes: int
    read_seconds: float


def recompute(
    session_factory: sessionmaker[Session], params: RecomputeParams, *, progress: Progress | None = None
) -> list[RecomputeOutcome]:
    """Compute each requested category from the counted votes and store a snapshot of each non-empty one.

    Every category is read first (on PostgreSQL in one REPEATABLE READ transaction, so all see the same
    votes) and checked (the anchor model) before anything is computed or stored.
    """
    loaded = _read_categories(session_factory, params, progress)
    anchor = params.compute.anchor_model
    for one in loaded:  # refuse before any snapshot is stored, not halfway through
        if one.votes and anchor is not None and anchor not in one.data.models:
            raise InvalidLeaderboardRequest(
                f"anchor model {anchor!r} has no counted battles in category {one.category!r}"
            )
    outcomes = []
    for one in loaded:
        if not one.votes:  # nothing to rank and nothing stored
            outcomes.append(RecomputeOutcome(one.category, 0, None, None, one.read_seconds))
            continue
        t0 = time.perf_counter()
        cb = _tagged(progress, one.category) if progress else None
        result = compute_leaderboard(one.data, params.compute, progress=cb)
        result.timings["read_s"] = one.read_seconds
        stored = SnapshotParams(one.category, params.online_elo, params.compute)
        with storage_errors(), session_scope(session_factory) as s:
            snapshot_id = api.save_snapshot(
                s,
                category=one.category,
                params=stored.to_json(),
                vote_count=one.votes,
                result=result.to_json(),
            ).id
        seconds = one.read_seconds + time.perf_counter() - t0
        outcomes.append(RecomputeOutcome(one.category, one.votes, snapshot_id, result, seconds))
    return outcomes


def _read_categories(
    session_factory: sessionmaker[Session], params: RecomputeParams, progress: Progress | None
) -> list[_Loaded]:
    loaded = []
    with storage_errors(), session_scope(session_factory) as s:
        if s.get_bind().dialect.name == "postgresql":
            # every query of a recompute sees the same votes
            s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        for cat in requested_categories(s, params.categories):
            t0 = time.perf_counter()
            if progress:
                progress(f"reading votes ({cat})", 0, 1)
            with gc_paused():
                data, votes = load_battle_data(
                    s, cat, style=params.compute.style_control, online_elo=params.online_elo
                )
            loaded.append(_Loaded(cat, data, votes, time.perf_counter() - t0))
    return loaded


def _tagged(progress: Progress, category: str) -> Progress:
    return lambda stage, done, total: progress(f"{stage} ({category})", done, total)


# ------------------------------------------------------------------------------------------ file fit


@dataclass(frozen=True)
class FileFitOutcome:
    result: LeaderboardResult
    battles: FileBattles
    read_seconds: float
    seconds: float


def fit_file(
    path: Path,
    params: ComputeParams,
    *,
    fmt: str | None = None,
    category: str = OVERALL,
    keep_named: bool = False,
    progress: Progress | None = None,
) -> FileFitOutcome:
    """The leaderboard of a battles file (FastChat clean_battle JSON, JSON Lines or our CSV export)."""
    if params.style_control:
        raise ValueError(
            "battles files carry no style counts: style control needs `arena leaderboard recompute`"
        )
    t0 = time.perf_counter()
    fb = read_battles(Path(path), fmt=fmt, category=checked_category(category), keep_named=keep_named)
    read_s = time.perf_counter() - t0
    m = len(fb.models)
    data = BattleData(
        fb.models, aggregate(fb.model_a, fb.model_b, fb.outcome, m), (fb.model_a, fb.model_b, fb.outcome)
    )
    result = compute_leaderboard(data, params, progress=progress)
    result.timings["read_s"] = read_s
    return FileFitOutcome(result, fb, read_s, time.perf_counter() - t0)


# ------------------------------------------------------------------------------------------ snapshots


@dataclass(frozen=True)
class StoredSnapshot:
    """A stored snapshot, decoded."""

    id: int
    category: str
    created_at: datetime
    vote_count: int
    params: SnapshotParams
    result: LeaderboardResult


def read_snapshot(record: SnapshotRecord) -> StoredSnapshot:
    """Decode a snapshot row: THE one place the stored JSON is read (old rows have the same layout)."""
    params = SnapshotParams.from_json(record.params)
    result = LeaderboardResult.from_json(record.result)
    return StoredSnapshot(record.id, record.category, record.created_at, record.vote_count, params, result)


def latest_snapshot(session_factory: sessionmaker[Session], category: str = OVERALL) -> StoredSnapshot | None:
    """The newest snapshot of ``category``, or None when there is none."""
    checked_category(category)
    with storage_errors(), session_scope(session_factory) as s:
        record = api.latest_snapshot(s, category)
    return None if record is None else read_snapshot(record)


# ------------------------------------------------------------------------------------------ view


@dataclass(frozen=True)
class LeaderboardRow:
    rank_ub: int
    model: str
    rating: float
    lower: float
    upper: float
    votes: int
    online_elo: float
    preliminary: bool
    unrankable: bool


@dataclass(frozen=True)
class LeaderboardView:
    category: str
    style_control: bool
    rows: list[LeaderboardRow]
    total_votes: int
    total_models: int
    created_at: datetime | None
    params: SnapshotParams | None  # None when there is no snapshot
    figures: dict[str, go.Figure]  # by name: leaderboard.charts.FIGURE_NAMES
    categories: list[str]
    style_coefficients: dict[str, float]
    message: str | None = None


def latest_view(
    session_factory: sessionmaker[Session], category: str = OVERALL, style_control: bool = False
) -> LeaderboardView:
    """What the Leaderboard tab shows: the newest snapshot of ``category`` (never recomputes).

    Raises :class:`InvalidLeaderboardRequest` for an invalid category name and
    :class:`~arena_app.services.errors.Unavailable` when the database cannot be read.
    """
    checked_category(category)
    with storage_errors(), session_scope(session_factory) as s:
        record = api.latest_snapshot(s, category)
        cats = snapshot_categories(s)
    empty = LeaderboardView(category, style_control, [], 0, 0, None, None, {}, cats, {})
    if record is None:
        hint = "" if category == OVERALL else f" --category {category}"
        return replace(
            empty, message=f"No leaderboard for '{category}' yet: run `arena leaderboard recompute{hint}`."
        )
    snap = read_snapshot(record)
    result = snap.result
    base = replace(
        empty,
        total_votes=snap.vote_count,
        total_models=len(result.models),
        created_at=snap.created_at,
        params=snap.params,
    )
    if style_control and result.style is None:
        return replace(
            base, message="This snapshot has no style-controlled ratings: recompute with --style-control."
        )
    coefs = dict(result.style.coefficients) if result.style is not None else {}
    return replace(
        base,
        rows=_view_rows(result, style_control),
        figures=result.figures(style=style_control),
        style_coefficients=coefs,
    )


def _view_rows(result: LeaderboardResult, style: bool) -> list[LeaderboardRow]:
    st = result.style if style else None
    rating, lower, upper = (
        (st.rating, st.lower, st.upper) if st else (result.rating, result.lower, result.upper)
    )
    rank, unrankable = (st.rank_ub, st.unrankable) if st else (result.rank_ub, result.unrankable)
    rows = [
        LeaderboardRow(
            rank[i],
            model,
            rating[i],
            lower[i],
            upper[i],
            result.votes[i],
            result.online_elo[i],
            result.preliminary[i],
            unrankable[i],
        )
        for i, model in enumerate(result.models)
    ]
    rows.sort(key=lambda r: (-(r.rating if not math.isnan(r.rating) else -math.inf), r.model))
    return rows
