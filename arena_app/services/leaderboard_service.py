"""Leaderboard workflows: recompute snapshots from the database, fit a battles file, and the latest view.

The math lives in :mod:`leaderboard` (pure); SQL in :mod:`arena_app.storage.leaderboard_queries`; reading a
category's votes in :mod:`arena_app.services.leaderboard_votes`; the view and the one decoder of stored
snapshots in :mod:`arena_app.services.leaderboard_view` (re-exported here). See docs/leaderboard.md for the
method, the snapshot format and the view contract used by the Leaderboard tab. Storage errors come out as
:mod:`arena_app.services.errors`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from arena_app.files.battle_columns import FileBattles
from arena_app.files.battle_files import read_battles
from arena_app.files.gc_pause import gc_paused
from arena_app.services.errors import storage_errors
from arena_app.services.leaderboard_details import add_vote_details
from arena_app.services.leaderboard_totals import exclusion_totals, unknown_models, with_vote_totals
from arena_app.services.leaderboard_view import (
    LeaderboardRow,
    LeaderboardView,
    StoredSnapshot,
    latest_snapshot,
    latest_view,
    read_snapshot,
)
from arena_app.services.leaderboard_votes import (
    ALL_CATEGORIES,
    NO_RULES,
    InvalidLeaderboardRequest,
    VoteRules,
    checked_category,
    load_battle_data,
    requested_categories,
    vote_selection,
)
from arena_app.storage import api
from arena_app.storage.db import session_scope
from leaderboard.categories import OVERALL
from leaderboard.clusters import cluster_cells
from leaderboard.compute import BattleData, ComputeParams, LeaderboardResult, compute_leaderboard
from leaderboard.data import TIE_BOTHBAD, aggregate
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
    "VoteRules",
    "checked_category",
    "fit_file",
    "latest_snapshot",
    "latest_view",
    "read_snapshot",
    "recompute",
]

Progress = Callable[[str, int, int], None]  # (stage, done, total)

#: the battles-file column that holds each kind of cluster (``--cluster``)
FILE_CLUSTER_COLUMNS = {"judge": "judge", "conversation": "question_id"}


# ------------------------------------------------------------------------------------------ recompute


@dataclass(frozen=True)
class RecomputeParams:
    categories: tuple[str, ...] = (OVERALL,)  # or ("all",): every built-in category and stored tag
    compute: ComputeParams = field(default_factory=lambda: ComputeParams(style_control=True, fragility=True))
    online_elo: bool = True
    rules: VoteRules = NO_RULES  # recompute-time exclusions (daily vote cap, excluded models)


@dataclass(frozen=True)
class RecomputeOutcome:
    category: str
    vote_count: int
    snapshot_id: int | None  # None when the category has no counted votes (nothing stored)
    result: LeaderboardResult | None  # None when the category has no counted votes (nothing computed)
    seconds: float
    excluded: dict[str, int] = field(default_factory=dict)  # votes of the category left out, by reason
    unknown_models: tuple[str, ...] = ()  # excluded-model names no battle has (a typo?)


@dataclass(frozen=True)
class _Loaded:
    category: str
    data: BattleData
    votes: int
    read_seconds: float
    excluded: dict[str, int]
    unknown_models: tuple[str, ...]


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
            outcomes.append(
                RecomputeOutcome(
                    one.category, 0, None, None, one.read_seconds, one.excluded, one.unknown_models
                )
            )
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
                params=with_vote_totals(stored.to_json(), params.rules, one.excluded),
                vote_count=one.votes,
                result=result.to_json(),
            ).id
        seconds = one.read_seconds + time.perf_counter() - t0
        outcomes.append(
            RecomputeOutcome(
                one.category, one.votes, snapshot_id, result, seconds, one.excluded, one.unknown_models
            )
        )
    return outcomes


def _read_categories(
    session_factory: sessionmaker[Session], params: RecomputeParams, progress: Progress | None
) -> list[_Loaded]:
    loaded = []
    rules = params.rules
    with storage_errors(), session_scope(session_factory) as s:
        if s.get_bind().dialect.name == "postgresql":
            # every query of a recompute sees the same votes
            s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        unknown = unknown_models(s, rules)
        for cat in requested_categories(s, params.categories):
            t0 = time.perf_counter()
            if progress:
                progress(f"reading votes ({cat})", 0, 1)
            with gc_paused():
                data, votes = load_battle_data(
                    s, cat, style=params.compute.style_control, online_elo=params.online_elo, rules=rules
                )
                data, votes = add_vote_details(s, cat, data, votes, params.compute, rules)
            excluded = exclusion_totals(s, vote_selection(cat, rules))
            loaded.append(_Loaded(cat, data, votes, time.perf_counter() - t0, excluded, unknown))
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
    column = FILE_CLUSTER_COLUMNS[params.cluster] if params.cluster is not None else None
    fb = read_battles(
        Path(path), fmt=fmt, category=checked_category(category), keep_named=keep_named, cluster=column
    )
    read_s = time.perf_counter() - t0
    m = len(fb.models)
    a, b, o = fb.model_a, fb.model_b, fb.outcome
    clusters = cluster_cells(a, b, o, m, fb.cluster) if fb.cluster is not None else None
    bothbad = float((o == TIE_BOTHBAD).sum())
    data = BattleData(fb.models, aggregate(a, b, o, m), (a, b, o), clusters=clusters, bothbad=bothbad)
    result = compute_leaderboard(data, params, progress=progress)
    result.timings["read_s"] = read_s
    return FileFitOutcome(result, fb, read_s, time.perf_counter() - t0)
