"""Leaderboard workflows: recompute snapshots from the database, fit a battles file, and the latest view.

The math lives in :mod:`leaderboard` (pure); SQL in :mod:`arena_app.storage.leaderboard_queries`; reading a
category's votes in :mod:`arena_app.services.leaderboard_votes`; the incremental tallies in
:mod:`arena_app.services.leaderboard_tallies`; file fits in :mod:`arena_app.services.leaderboard_fit`; the
view and the one decoder of stored snapshots in :mod:`arena_app.services.leaderboard_view` (both
re-exported here). See docs/leaderboard.md for the method, the snapshot format and the view contract used
by the Leaderboard tab. Storage errors come out as :mod:`arena_app.services.errors`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sqlalchemy.orm import Session, sessionmaker

from arena_app.files.gc_pause import gc_paused
from arena_app.services.errors import storage_errors
from arena_app.services.file_filters import FileFilters
from arena_app.services.leaderboard_details import add_vote_details
from arena_app.services.leaderboard_fit import FILE_CLUSTER_COLUMNS as FILE_CLUSTER_COLUMNS
from arena_app.services.leaderboard_fit import FileFitOutcome, fit_file
from arena_app.services.leaderboard_snapshots import store_or_confirm, unchanged_snapshot
from arena_app.services.leaderboard_tallies import incremental_unsupported, update_tallies, weights_needed
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
from arena_app.storage.db import session_scope
from arena_app.storage.tally_queries import category_version, max_vote_id
from leaderboard.categories import OVERALL
from leaderboard.compute import BattleData, ComputeParams, LeaderboardResult, compute_leaderboard
from leaderboard.result import SnapshotParams

__all__ = [
    "ALL_CATEGORIES",
    "ComputeParams",
    "FileFilters",
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


# ------------------------------------------------------------------------------------------ recompute


@dataclass(frozen=True)
class RecomputeParams:
    categories: tuple[str, ...] = (OVERALL,)  # or ("all",): every built-in category and stored tag
    compute: ComputeParams = field(default_factory=lambda: ComputeParams(style_control=True, fragility=True))
    online_elo: bool = True
    # From the stored pair counts and online Elo (services/leaderboard_tallies.py) instead of every vote;
    # options it cannot serve fall back to the full pass (the outcome's ``note`` says so).
    incremental: bool = False
    rebuild: bool = False  # incremental, with the tallies built from scratch first
    # Compute nothing for a category whose newest snapshot of this kind was computed with these
    # parameters from exactly these counted votes.
    only_if_changed: bool = False
    rules: VoteRules = NO_RULES  # recompute-time exclusions (daily vote cap, excluded models): a full pass


@dataclass(frozen=True)
class RecomputeOutcome:
    category: str
    vote_count: int
    snapshot_id: int | None  # None when the category has no counted votes (nothing stored)
    result: LeaderboardResult | None  # None when nothing was computed (no counted votes, or unchanged)
    seconds: float
    how: str = "full"  # "full" | "incremental" | "rebuilt" | "unchanged" (nothing computed)
    stored: bool = True  # False: no new snapshot (the newest one already has this table, or no votes)
    new_votes: int | None = None  # incremental: counted votes read this time
    note: str | None = None  # why the full pass ran, or why a tally was rebuilt
    excluded: dict[str, int] = field(default_factory=dict)  # votes of the category left out, by reason
    unknown_models: tuple[str, ...] = ()  # excluded-model names no stored conversation has (a typo?)


@dataclass(frozen=True)
class _Loaded:
    category: str
    data: BattleData
    votes: int
    read_seconds: float
    last_vote_id: int
    votes_key: str
    how: str = "full"
    new_votes: int | None = None
    note: str | None = None
    unknown_models: tuple[str, ...] = ()


def recompute(
    session_factory: sessionmaker[Session], params: RecomputeParams, *, progress: Progress | None = None
) -> list[RecomputeOutcome]:
    """Compute each requested category from the counted votes and store a snapshot of each non-empty one
    whose table changed (docs/leaderboard.md, "Keeping the leaderboard fresh").

    Every category is read first (on PostgreSQL in one REPEATABLE READ transaction, so all see the same
    votes) and checked (the anchor model) before anything is computed or stored. Incremental runs (and
    rebuilds) must hold the recompute lease (:mod:`arena_app.services.leaderboard_lease`).
    """
    loaded = _read(session_factory, params, progress)
    anchor = params.compute.anchor_model
    for one in loaded:  # refuse before any snapshot is stored, not halfway through
        if one.votes and anchor is not None and anchor not in one.data.models:
            raise InvalidLeaderboardRequest(
                f"anchor model {anchor!r} has no counted battles in category {one.category!r}"
            )
    return [_compute_one(session_factory, params, one, progress) for one in loaded]


def _compute_one(
    session_factory: sessionmaker[Session], params: RecomputeParams, one: _Loaded, progress: Progress | None
) -> RecomputeOutcome:
    base = RecomputeOutcome(
        one.category,
        one.votes,
        None,
        None,
        one.read_seconds,
        one.how,
        False,
        one.new_votes,
        one.note,
        unknown_models=one.unknown_models,
    )
    stored = SnapshotParams(one.category, params.online_elo, params.compute)
    rules = {"vote_rules": params.rules.to_json()}
    if one.votes and params.only_if_changed:
        with storage_errors(), session_scope(session_factory) as s:
            same = unchanged_snapshot(s, stored, one.votes_key, rules)
        if same is not None:
            return replace(base, snapshot_id=same, how="unchanged")
    with storage_errors(), session_scope(session_factory) as s:  # only when computing: a GROUP BY
        selection = replace(vote_selection(one.category, params.rules), up_to_id=one.last_vote_id)
        base = replace(base, excluded=exclusion_totals(s, selection))
    if not one.votes:  # nothing to rank and nothing stored
        return base
    totals = with_vote_totals({}, params.rules, base.excluded)
    t0 = time.perf_counter()
    cb = _tagged(progress, one.category) if progress else None
    result = compute_leaderboard(one.data, params.compute, progress=cb)
    result.timings["read_s"] = one.read_seconds
    with storage_errors(), session_scope(session_factory) as s:
        kept = store_or_confirm(
            s, stored, one.votes, result, last_vote_id=one.last_vote_id, votes_key=one.votes_key, extra=totals
        )
    seconds = one.read_seconds + time.perf_counter() - t0
    return replace(base, snapshot_id=kept.snapshot_id, result=result, seconds=seconds, stored=kept.stored)


def _read(
    session_factory: sessionmaker[Session], params: RecomputeParams, progress: Progress | None
) -> list[_Loaded]:
    """The rating input of every requested category: from the tallies when they can serve the
    parameters, else (or when not asked for) from every counted vote."""
    note = None
    with storage_errors(), session_scope(session_factory) as s:
        categories = requested_categories(s, params.categories)
        unknown = unknown_models(s, params.rules)
    if params.incremental or params.rebuild:
        note = incremental_unsupported(params.compute) or params.rules.needs_full_pass()
    if not (params.incremental or params.rebuild) or note is not None:
        loaded = _read_categories(session_factory, params, categories, progress)
        loaded = [replace(one, note=f"full pass: {note}") for one in loaded] if note else loaded
        return [replace(one, unknown_models=unknown) for one in loaded]
    if progress:
        progress("reading new votes", 0, 1)
    tallied = update_tallies(session_factory, categories, params.compute, rebuild=params.rebuild)
    weighted = {t.category: why for t in tallied if (why := weights_needed(params.compute, t))}
    full = {
        one.category: replace(one, note=f"full pass: {weighted[one.category]}")
        for one in (_read_categories(session_factory, params, list(weighted), progress) if weighted else [])
    }
    return [
        full[t.category]
        if t.category in full
        else _Loaded(
            t.category,
            t.data if params.online_elo else replace(t.data, elo=None),
            t.votes,
            t.read_seconds,
            t.last_vote_id,
            t.votes_key,
            "incremental" if t.rebuilt is None else "rebuilt",
            t.new_votes,
            None if t.rebuilt is None else f"tally rebuilt: {t.rebuilt}",
        )
        for t in tallied
    ]


def _read_categories(
    session_factory: sessionmaker[Session],
    params: RecomputeParams,
    categories: list[str],
    progress: Progress | None,
) -> list[_Loaded]:
    loaded = []
    with storage_errors(), session_scope(session_factory) as s:
        if s.get_bind().dialect.name == "postgresql":
            # every query of a recompute sees the same votes
            s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        newest = max_vote_id(s)
        for cat in categories:
            t0 = time.perf_counter()
            if progress:
                progress(f"reading votes ({cat})", 0, 1)
            # the version first: a vote that changes while the rows are read makes it stale, not wrong
            rules = params.rules
            count, h, _weighted = category_version(s, replace(vote_selection(cat, rules), up_to_id=newest))
            with gc_paused():
                data, votes = load_battle_data(
                    s,
                    cat,
                    style=params.compute.style_control,
                    online_elo=params.online_elo,
                    up_to_id=newest,
                    rules=rules,
                )
                data, votes = add_vote_details(s, cat, data, votes, params.compute, rules)
            loaded.append(_Loaded(cat, data, votes, time.perf_counter() - t0, newest, f"{count}:{h}"))
    return loaded


def _tagged(progress: Progress, category: str) -> Progress:
    return lambda stage, done, total: progress(f"{stage} ({category})", done, total)
