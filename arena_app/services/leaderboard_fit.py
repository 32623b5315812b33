"""Fit a battles file (``arena leaderboard fit``): FastChat clean_battle JSON, JSON Lines or our CSV export,
with FastChat's offline filters (re-exported by :mod:`arena_app.services.leaderboard_service`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from arena_app.files.battle_columns import FileBattles
from arena_app.files.battle_files import read_battles
from arena_app.services.file_filters import FileFilters, apply_filters
from arena_app.services.leaderboard_votes import InvalidLeaderboardRequest, checked_category
from leaderboard.categories import OVERALL
from leaderboard.clusters import cluster_cells
from leaderboard.compute import BattleData, ComputeParams, LeaderboardResult, StyleRows, compute_leaderboard
from leaderboard.data import TIE_BOTHBAD, aggregate

__all__ = ["FILE_CLUSTER_COLUMNS", "FileFilters", "FileFitOutcome", "fit_file"]

Progress = Callable[[str, int, int], None]  # (stage, done, total)

#: the battles-file column that holds each kind of cluster (``--cluster``)
FILE_CLUSTER_COLUMNS = {"judge": "judge", "conversation": "question_id"}


@dataclass(frozen=True)
class FileFitOutcome:
    result: LeaderboardResult
    battles: FileBattles
    read_seconds: float
    seconds: float
    unknown_excluded: list[str] = field(default_factory=list)  # --exclude-models names matching no model


def fit_file(
    path: Path,
    params: ComputeParams,
    *,
    fmt: str | None = None,
    category: str = OVERALL,
    keep_named: bool = False,
    filters: FileFilters | None = None,
    progress: Progress | None = None,
) -> FileFitOutcome:
    """The leaderboard of a battles file (FastChat clean_battle JSON, JSON Lines or our CSV export).
    ``params.style_control`` fits style from FastChat's ``conv_metadata``; ``filters`` are FastChat's
    ``--exclude-models``, ``--exclude-ties`` and ``--langs`` (:mod:`arena_app.services.file_filters`)."""
    filters = filters or FileFilters()
    t0 = time.perf_counter()
    column = FILE_CLUSTER_COLUMNS[params.cluster] if params.cluster is not None else None
    capped = filters.daily_vote_cap is not None
    if capped and column not in (None, "judge"):
        raise InvalidLeaderboardRequest(
            "--daily-vote-cap counts votes per judge: it cannot be combined with --cluster conversation"
        )
    read = read_battles(
        Path(path),
        fmt=fmt,
        category=checked_category(category),
        keep_named=keep_named,
        cluster="judge" if capped else column,
        style=params.style_control,
        langs=filters.lang_set(),
        times=capped,
    )
    filtered = apply_filters(read, filters)
    fb = filtered.battles
    if column is None:
        fb.cluster = None  # read for the daily cap only
    read_s = time.perf_counter() - t0
    m = len(fb.models)
    a, b, o = fb.model_a, fb.model_b, fb.outcome
    clusters = cluster_cells(a, b, o, m, fb.cluster) if fb.cluster is not None else None
    bothbad = float((o == TIE_BOTHBAD).sum())
    style = StyleRows(a, b, o, fb.style[0], fb.style[1]) if fb.style is not None else None
    data = BattleData(
        fb.models, aggregate(a, b, o, m), (a, b, o), style=style, clusters=clusters, bothbad=bothbad
    )
    result = compute_leaderboard(data, params, progress=progress)
    result.timings["read_s"] = read_s
    return FileFitOutcome(result, fb, read_s, time.perf_counter() - t0, filtered.unknown_models)
