"""Leaderboard workflows: recompute snapshots from the database, fit a battles file, and the latest view.

The math lives in :mod:`leaderboard` (pure); SQL in :mod:`arena_app.storage.leaderboard_queries`. See
docs/leaderboard.md for the method, the snapshot format and the view contract used by the Leaderboard tab.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from arena_app.files.battle_files import FileBattles, read_battles
from arena_app.files.gc_pause import gc_paused
from arena_app.storage import api
from arena_app.storage import leaderboard_queries as q
from arena_app.storage.db import session_scope
from leaderboard.categories import BUILTIN_CATEGORIES, OVERALL, category_filter, validate_category
from leaderboard.compute import (
    BattleData,
    ComputeParams,
    LeaderboardResult,
    StyleRows,
    compute_leaderboard,
    num_or_nan,
)
from leaderboard.data import aggregate

Progress = Callable[[str, int, int], None]  # (stage, done, total)
ALL_CATEGORIES = "all"


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


def vote_selection(category: str) -> q.VoteSelection:
    """The storage selection of a category's counted votes (from its category_filter)."""
    rule = category_filter(category)
    if rule.kind == "min_turns":
        return q.VoteSelection(min_turns=rule.min_turns)
    if rule.kind == "tag":
        return q.VoteSelection(tag=rule.tag)
    return q.EVERY_COUNTED_VOTE


def available_categories(s: Session) -> list[str]:
    """Built-in categories first, then every tag stored on some battle."""
    extra = [t for t in q.stored_tags(s) if t not in BUILTIN_CATEGORIES]
    return [*BUILTIN_CATEGORIES, *extra]


def _category_list(s: Session, categories: Sequence[str]) -> list[str]:
    """The categories to compute; a name that is neither built in nor a tag stored on some battle is
    refused (most likely a typo), naming what exists."""
    available = available_categories(s)
    if any(c == ALL_CATEGORIES for c in categories):
        return available
    out: list[str] = []
    for c in categories:
        validate_category(c)
        if c not in available:
            raise ValueError(
                f"unknown category {c!r}: not built in and no battle carries that tag "
                f"(available: {', '.join(available)}; or 'all')"
            )
        if c not in out:
            out.append(c)
    return out or [OVERALL]


def load_battle_data(
    s: Session, category: str, *, style: bool, online_elo: bool = True
) -> tuple[BattleData, int]:
    """Counted votes of a category as :class:`BattleData` and the number of votes used.

    Without online Elo and style control only the SQL ``GROUP BY`` runs (the aggregated cells are all the
    fit needs, however many votes there are). When per-battle rows are needed anyway (Elo is sequential;
    style covariates are per battle) they are fetched once and aggregated in numpy, which on SQLite costs a
    quarter of its temp-B-tree GROUP BY (measured: 1.6 s vs 6.4 s CPU for 855k votes).
    """
    if not (online_elo or style):
        agg = q.aggregate_counted_votes(s, vote_selection(category))
        pairs = aggregate(agg.model_a, agg.model_b, agg.outcome, len(agg.models), agg.count)
        return BattleData(agg.models, pairs), agg.vote_count
    rows = q.counted_battle_rows(s, vote_selection(category), with_style=style)
    m = len(rows.models)
    pairs = aggregate(rows.model_a, rows.model_b, rows.outcome, m)
    sequence = (rows.model_a, rows.model_b, rows.outcome) if online_elo else None
    style_rows = None
    if style and rows.features_a is not None and rows.features_b is not None:
        style_rows = StyleRows(rows.model_a, rows.model_b, rows.outcome, rows.features_a, rows.features_b)
    return BattleData(rows.models, pairs, sequence, style_rows), len(rows.model_a)


def recompute(
    session_factory: sessionmaker[Session], params: RecomputeParams, *, progress: Progress | None = None
) -> list[RecomputeOutcome]:
    """Compute each requested category from the counted votes and store a snapshot of each non-empty one."""
    outcomes = []
    with session_factory() as s:
        if s.get_bind().dialect.name == "postgresql":
            # every query of a recompute sees the same votes
            s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        categories = _category_list(s, params.categories)
        loaded = []
        for cat in categories:
            t0 = time.perf_counter()
            if progress:
                progress(f"reading votes ({cat})", 0, 1)
            with gc_paused():
                data, votes = load_battle_data(
                    s, cat, style=params.compute.style_control, online_elo=params.online_elo
                )
            loaded.append((cat, data, votes, time.perf_counter() - t0))
    anchor = params.compute.anchor_model
    for cat, data, votes, _ in loaded:  # refuse before any snapshot is stored, not halfway through
        if votes and anchor is not None and anchor not in data.models:
            raise ValueError(f"anchor model {anchor!r} has no counted battles in category {cat!r}")
    for cat, data, votes, read_s in loaded:
        if not votes:  # nothing to rank and nothing stored
            outcomes.append(RecomputeOutcome(cat, 0, None, None, read_s))
            continue
        t0 = time.perf_counter()
        cb = _tagged(progress, cat) if progress else None
        result = compute_leaderboard(data, params.compute, progress=cb)
        result.timings["read_s"] = read_s
        stored = {"category": cat, "online_elo": params.online_elo, **params.compute.to_json()}
        with session_scope(session_factory) as s:
            snapshot_id = api.save_snapshot(
                s, category=cat, params=stored, vote_count=votes, result=result.to_json()
            ).id
        outcomes.append(RecomputeOutcome(cat, votes, snapshot_id, result, read_s + time.perf_counter() - t0))
    return outcomes


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
    fb = read_battles(Path(path), fmt=fmt, category=category, keep_named=keep_named)
    read_s = time.perf_counter() - t0
    m = len(fb.models)
    data = BattleData(
        fb.models, aggregate(fb.model_a, fb.model_b, fb.outcome, m), (fb.model_a, fb.model_b, fb.outcome)
    )
    result = compute_leaderboard(data, params, progress=progress)
    result.timings["read_s"] = read_s
    return FileFitOutcome(result, fb, read_s, time.perf_counter() - t0)


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
    params: dict[str, Any]
    figures: dict[str, Any]  # plotly.graph_objects.Figure by name
    categories: list[str]
    style_coefficients: dict[str, float]
    message: str | None = None


def latest_view(
    session_factory: sessionmaker[Session], category: str = OVERALL, style_control: bool = False
) -> LeaderboardView:
    """What the Leaderboard tab shows: the newest snapshot of ``category`` (never recomputes)."""
    validate_category(category)
    with session_factory() as s:
        snap = api.latest_snapshot(s, category)
        cats = sorted(q.snapshot_categories(s), key=lambda c: (c != OVERALL, c))
    empty = LeaderboardView(category, style_control, [], 0, 0, None, {}, {}, cats, {})
    if snap is None:
        hint = "" if category == OVERALL else f" --category {category}"
        return replace(
            empty, message=f"No leaderboard for '{category}' yet: run `arena leaderboard recompute{hint}`."
        )
    result = LeaderboardResult.from_json(snap.result)
    base = replace(
        empty,
        total_votes=snap.vote_count,
        total_models=len(result.models),
        created_at=snap.created_at,
        params=dict(snap.params),
    )
    if style_control and not result.style:
        return replace(
            base, message="This snapshot has no style-controlled ratings: recompute with --style-control."
        )
    rows = _view_rows(result, style_control)
    coefs = dict(result.style["coefficients"]) if result.style else {}
    return replace(base, rows=rows, figures=result.figures(style=style_control), style_coefficients=coefs)


def _view_rows(result: LeaderboardResult, style: bool) -> list[LeaderboardRow]:
    n = len(result.models)
    if style and result.style:
        st = result.style
        rating = [num_or_nan(v) for v in st["rating"]]
        lower = [num_or_nan(v) for v in st["lower"]]
        upper = [num_or_nan(v) for v in st["upper"]]
        rank = list(st["rank_ub"])
        unrankable = list(st["unrankable"])
    else:
        rating, lower, upper, rank, unrankable = (
            result.rating,
            result.lower,
            result.upper,
            result.rank_ub,
            result.unrankable,
        )
    rows = [
        LeaderboardRow(
            int(rank[i]),
            result.models[i],
            rating[i],
            lower[i],
            upper[i],
            int(result.votes[i]),
            result.online_elo[i],
            bool(result.preliminary[i]),
            bool(unrankable[i]),
        )
        for i in range(n)
    ]
    rows.sort(key=lambda r: (-(r.rating if not math.isnan(r.rating) else -math.inf), r.model))
    return rows
