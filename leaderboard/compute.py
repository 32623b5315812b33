"""The whole leaderboard in one call: BT point fit, intervals, rank (UB), online Elo, pairwise tables and
optional style control, returned as a :class:`LeaderboardResult` that round-trips through JSON.

The result types and their JSON live in :mod:`leaderboard.result` (``ComputeParams`` and
``LeaderboardResult`` are re-exported here).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from leaderboard.bt import Identification
from leaderboard.clusters import ClusterCells
from leaderboard.data import FloatArray, IntArray, PairCounts
from leaderboard.elo import online_elo
from leaderboard.intervals import interval_job, point_fit
from leaderboard.json_fields import json_number_map, json_numbers
from leaderboard.pairwise import pairwise_tables
from leaderboard.params import ComputeParams as ComputeParams  # re-exported
from leaderboard.ranking import rank_ub
from leaderboard.result import FitSummary, PairwiseResult, StyleFitSummary, StyleRatings
from leaderboard.result import LeaderboardResult as LeaderboardResult  # re-exported
from leaderboard.separation import floor_intervals, is_separated
from leaderboard.style import STYLE_FEATURES, StyleResult, style_control, style_covariates
from leaderboard.summaries import tie_summary, top1_fragility
from leaderboard.weighted import WeightedVotes

PAIRWISE_LIMIT = 50  # pairwise tables are stored for the top models only (keeps snapshots small)

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class StyleRows:
    """Per-battle rows for style control; features are (n, 4): tokens, headers, lists, bold."""

    model_a: IntArray
    model_b: IntArray
    outcome: IntArray
    features_a: FloatArray
    features_b: FloatArray
    counts: FloatArray | None = None


@dataclass(frozen=True)
class BattleData:
    models: list[str]
    pairs: PairCounts  # vote counts (never weighted)
    sequence: tuple[IntArray, IntArray, IntArray] | None = None  # time-ordered battles for online Elo
    style: StyleRows | None = None
    # Optional per-vote detail (see leaderboard.intervals): the votes' sampling weights, their clusters
    # (cells built with the weights when the fit uses them), and how many ties were "tie (bothbad)".
    weighted: WeightedVotes | None = None
    clusters: ClusterCells | None = None
    bothbad: float | None = None
    # Online Elo already run (the incremental recompute keeps it up to date): used instead of ``sequence``
    elo: FloatArray | None = None


def _anchor_index(models: Sequence[str], params: ComputeParams) -> int | None:
    if params.anchor_model is None:
        return None
    try:
        return list(models).index(params.anchor_model)
    except ValueError:
        raise ValueError(
            f"anchor model {params.anchor_model!r} has no counted battles in this data"
        ) from None


def compute_leaderboard(
    data: BattleData, params: ComputeParams, *, progress: Progress | None = None
) -> LeaderboardResult:
    """Everything the leaderboard shows. Online Elo runs while bootstrap rounds run on worker threads."""
    timings: dict[str, float] = {}
    pc, models, m = data.pairs, data.models, len(data.models)
    if pc.n_models != m:
        raise ValueError("pair counts and model list disagree on the number of models")
    anchor = _anchor_index(models, params)
    rng = np.random.default_rng(params.seed)
    t0 = time.perf_counter()
    pf = point_fit(pc, params, data.weighted, data.bothbad)
    fit = pf.fit
    timings["fit_s"] = time.perf_counter() - t0
    ident = _identification(fit.rankable, params, anchor)
    rating = ident.ratings(fit.theta)
    job = interval_job(pf, params, ident, rng, data.clusters, _stage(progress, params.ci))
    lower, upper, elo = _intervals_and_elo(data, params, job, timings)

    votes = np.rint(pc.votes_per_model()).astype(np.int64)
    ranks = rank_ub(lower, upper)
    order = np.lexsort((np.array(models, dtype=object).astype(str), -rating)) if m else np.zeros(0, np.int64)
    style = None
    if params.style_control and data.style is not None and len(data.style.model_a):
        t0 = time.perf_counter()
        fitted = _style_fit(data.style, m, params, anchor, fit.theta, rng)
        style = _style_ratings(_floored(fitted, data.style, m, (rating, lower, upper)), order)
        timings["style_s"] = time.perf_counter() - t0
    fragility = None
    if params.fragility and pf.davidson is None and pf.weighted is None and m >= 2:
        t0 = time.perf_counter()
        fragility = top1_fragility(pc, fit, models)
        timings["fragility_s"] = time.perf_counter() - t0
    return LeaderboardResult(
        models=[models[i] for i in order],
        rating=rating[order].tolist(),
        lower=lower[order].tolist(),
        upper=upper[order].tolist(),
        rank_ub=ranks[order].tolist(),
        votes=votes[order].tolist(),
        online_elo=elo[order].tolist(),
        unrankable=(~fit.rankable[order]).tolist(),
        preliminary=(votes[order] < params.min_votes).tolist(),
        params=params,
        total_battles=int(round(pc.n_battles)),
        ties=int(round(float(pc.ties.sum()))),
        fit=FitSummary(fit.iterations, fit.grad_norm, fit.max_step, fit.ridge, fit.converged),
        pairwise=_pairwise(pc, models, rating, order[:PAIRWISE_LIMIT], params),
        style=style,
        timings=timings,
        weighted=pf.weighted is not None,
        clusters=data.clusters.n_clusters if params.needs_clusters and data.clusters is not None else None,
        tie_model=None if pf.davidson is None else tie_summary(pf, data.pairs),
        fragility=fragility,
    )


def _identification(rankable: NDArray[np.bool_], params: ComputeParams, anchor: int | None) -> Identification:
    return Identification.make(
        rankable, base=params.base, scale=params.scale, value=params.anchor_rating, anchor=anchor
    )


def _stage(progress: Progress | None, ci: str) -> Callable[[int, int], None] | None:
    return (lambda d, t: progress(ci.replace("-", " "), d, t)) if progress else None


def _intervals_and_elo(
    data: BattleData,
    params: ComputeParams,
    job: Callable[[], tuple[FloatArray, FloatArray]],
    timings: dict[str, float],
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(lower, upper, online Elo): the interval job runs on a worker thread while Elo runs here."""
    m = len(data.models)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(1) as pool:
        intervals = pool.submit(job)
        t1 = time.perf_counter()
        if data.elo is not None:
            if len(data.elo) != m:
                raise ValueError("online Elo ratings and model list disagree on the number of models")
            elo = np.asarray(data.elo, dtype=np.float64)
        elif data.sequence is not None and m:
            elo = online_elo(
                *data.sequence, m, k=params.k, base=params.base, scale=params.scale, initial=params.initial
            )
        else:
            elo = np.full(m, np.nan)
        timings["online_elo_s"] = time.perf_counter() - t1
        lower, upper = intervals.result()
    timings["intervals_s"] = time.perf_counter() - t0
    return np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64), elo


def _pairwise(
    pc: PairCounts, models: Sequence[str], rating: FloatArray, top: IntArray, params: ComputeParams
) -> PairwiseResult:
    pw = pairwise_tables(pc, rating, order=top, base=params.base, scale=params.scale)
    return PairwiseResult(
        models=[models[i] for i in top],
        win_fraction=[json_numbers(row) for row in pw.win_fraction.tolist()],
        battle_count=pw.battle_count.astype(int).tolist(),
        predicted=[json_numbers(row) for row in pw.predicted.tolist()],
        average_win_rate=json_numbers(pw.average_win_rate.tolist()),
    )


def _style_fit(
    s: StyleRows,
    m: int,
    params: ComputeParams,
    anchor: int | None,
    theta0: FloatArray,
    rng: np.random.Generator,
) -> StyleResult:
    with threadpool_limits(1, user_api="blas"):
        return style_control(
            s.model_a,
            s.model_b,
            s.outcome,
            m,
            s.features_a,
            s.features_b,
            lambda rk: _identification(rk, params, anchor),
            counts=s.counts,
            theta0=theta0,
            ci=params.style_ci,
            rounds=params.style_rounds,
            rng=rng,
        )


def _floored(
    res: StyleResult, s: StyleRows, m: int, plain: tuple[FloatArray, FloatArray, FloatArray]
) -> StyleResult:
    """``res`` with its intervals floored at the plain fit's width when the votes separate the style model
    (no maximum-likelihood estimate exists; the sandwich interval would be far too narrow)."""
    keep = np.ones(len(s.model_a), bool) if s.counts is None else np.asarray(s.counts) > 0
    x, _, _ = style_covariates(s.features_a[keep], s.features_b[keep])
    o = np.asarray(s.outcome)[keep]
    score = np.where(o == 0, 1.0, np.where(o == 1, 0.0, 0.5))
    if not is_separated(np.asarray(s.model_a)[keep], np.asarray(s.model_b)[keep], score, m, x):
        return res
    lower, upper = floor_intervals(res.ratings, res.lower, res.upper, plain)
    return replace(res, lower=lower, upper=upper, floored=True)


def _style_ratings(res: StyleResult, order: IntArray) -> StyleRatings:
    """The style fit in the result's model order (``order``: indices sorted by the raw rating)."""
    return StyleRatings(
        features=list(STYLE_FEATURES),
        coefficients=dict(res.coefficients),
        coef_lower=json_number_map(res.coef_lower),
        coef_upper=json_number_map(res.coef_upper),
        ci=res.ci,
        rating=res.ratings[order].tolist(),
        lower=res.lower[order].tolist(),
        upper=res.upper[order].tolist(),
        rank_ub=rank_ub(res.lower, res.upper)[order].tolist(),
        unrankable=(~res.fit.rankable[order]).tolist(),
        fit=StyleFitSummary(res.fit.iterations, res.fit.grad_norm, res.fit.ridge, res.fit.converged),
        floored=res.floored,
    )
