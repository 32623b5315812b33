"""Which fit and which interval method a leaderboard computation uses, on which counts.

:func:`leaderboard.compute.compute_leaderboard` asks this module for the point fit (Bradley-Terry with
ties as half, or the Davidson model; on the plain or the inverse-propensity-weighted counts) and for the
95% intervals of the method the parameters name:

============================  ===================================================================
``bootstrap``                 battle bootstrap (weighted votes: the weighted vote bootstrap;
                              Davidson: :func:`leaderboard.davidson.bootstrap_davidson`)
``sandwich``                  sandwich (weighted: the weighted sandwich; Davidson: its own sandwich)
``cluster-bootstrap``         resample clusters (judges or prompts): :mod:`leaderboard.clusters`
``cluster-sandwich``          the clustered sandwich
============================  ===================================================================

Combinations that are not implemented are refused with a message that says what works: the Davidson
model has no cluster intervals (refused by :class:`~leaderboard.params.ComputeParams`) and no bootstrap
on weighted votes (its bootstrap needs whole counts).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from leaderboard.bootstrap import bootstrap_thetas, identify_rounds, percentile_intervals
from leaderboard.bt import BTFit, Identification, fit_bt
from leaderboard.clusters import ClusterCells, cluster_bootstrap_thetas, clustered_sandwich_intervals
from leaderboard.data import FloatArray, PairCounts
from leaderboard.davidson import DavidsonFit, bootstrap_davidson, fit_davidson, sandwich_cov
from leaderboard.params import ComputeParams
from leaderboard.sandwich import Z95, rating_cov, sandwich_intervals
from leaderboard.weighted import WeightedVotes, weighted_bootstrap_thetas, weighted_sandwich_intervals

Bounds = tuple[FloatArray, FloatArray]
RoundProgress = Callable[[int, int], None]


def use_weights(params: ComputeParams, weighted: WeightedVotes | None) -> bool:
    """Whether the fit uses the sampling weights: ``on`` always (when there are any), ``auto`` when some
    weight differs from 1, ``off`` never."""
    if weighted is None or params.weights == "off":
        return False
    return params.weights == "on" or not weighted.unit


@dataclass(frozen=True)
class PointFit:
    """The point fit as a :class:`BTFit` (the Davidson fit's theta, rankable mask and convergence too);
    ``davidson`` is set for ``--ties davidson``; ``counts`` are the counts it was fitted on."""

    fit: BTFit
    counts: PairCounts
    davidson: DavidsonFit | None
    weighted: WeightedVotes | None  # set when the fit used the sampling weights


def point_fit(
    pairs: PairCounts, params: ComputeParams, weighted: WeightedVotes | None, bothbad: float | None
) -> PointFit:
    """The full-data fit (one BLAS thread: the m x m solves are small)."""
    wv = weighted if use_weights(params, weighted) else None
    counts = wv.pairs if wv is not None else pairs
    if params.ties == "davidson" and wv is not None and params.ci == "bootstrap":
        raise ValueError(
            "--ties davidson on sampling-weighted votes needs --ci sandwich (the Davidson bootstrap "
            "resamples whole counts), or --weights off"
        )
    with threadpool_limits(1, user_api="blas"):
        if params.ties != "davidson":
            return PointFit(fit_bt(counts), counts, None, wv)
        share = None
        if bothbad is not None and float(pairs.ties.sum()) > 0:
            share = bothbad / float(pairs.ties.sum())  # the split of nu follows the share of "both bad"
        d = fit_davidson(counts, bothbad=None if share is None else share * float(counts.ties.sum()))
    bt = BTFit(d.theta, d.rankable, d.ridge, d.iterations, math.nan, d.grad_norm, d.converged)
    return PointFit(bt, counts, d, wv)


def interval_job(
    pf: PointFit,
    params: ComputeParams,
    ident: Identification,
    rng: np.random.Generator,
    clusters: ClusterCells | None,
    progress: RoundProgress | None,
) -> Callable[[], Bounds]:
    """The interval computation for ``params.ci``, as a callable (compute runs it on a worker thread while
    online Elo runs). Checks its inputs now, so a refusal comes before any work."""
    fit, counts = pf.fit, pf.counts
    if pf.davidson is not None and math.isfinite(pf.davidson.log_nu):
        return _davidson_job(pf, pf.davidson, params, ident, rng)
    # (a Davidson fit without ties is the Bradley-Terry fit of the decisive votes: BT intervals below)
    if params.needs_clusters:
        if clusters is None:
            raise ValueError(f"--ci {params.ci} needs each vote's {params.cluster} (none were read)")
        if not math.isclose(clusters.pairs.n_battles, counts.n_battles, rel_tol=1e-9, abs_tol=1e-6):
            raise ValueError("the cluster cells do not hold the votes that were fitted")
        if params.ci == "cluster-sandwich":
            return lambda: _one_thread(lambda: clustered_sandwich_intervals(clusters, fit, ident))
        return lambda: percentile_intervals(
            identify_rounds(
                ident,
                cluster_bootstrap_thetas(clusters, fit, rng, rounds=params.rounds, threads=params.threads),
            )
        )
    wv = pf.weighted
    if params.ci == "sandwich":
        if wv is not None:
            return lambda: _one_thread(lambda: weighted_sandwich_intervals(wv, fit, ident))
        return lambda: _one_thread(lambda: sandwich_intervals(counts, fit, ident))
    if wv is not None:
        return lambda: percentile_intervals(
            identify_rounds(
                ident,
                weighted_bootstrap_thetas(
                    wv, fit, rng, rounds=params.rounds, threads=params.threads, progress=progress
                ),
            )
        )
    rounds, threads = params.rounds, params.threads
    return lambda: percentile_intervals(
        identify_rounds(
            ident, bootstrap_thetas(counts, fit, rng, rounds=rounds, threads=threads, progress=progress)
        )
    )


def _davidson_job(
    pf: PointFit, d: DavidsonFit, params: ComputeParams, ident: Identification, rng: np.random.Generator
) -> Callable[[], Bounds]:
    counts, wv = pf.counts, pf.weighted
    if params.ci == "sandwich":

        def sandwich() -> Bounds:
            with threadpool_limits(1, user_api="blas"):
                cov = sandwich_cov(counts, d, meat_counts=None if wv is None else wv.pairs_sq)
            m = counts.n_models
            sd = np.sqrt(np.maximum(np.diag(rating_cov(cov[:m, :m], ident)), 0.0))
            r = ident.ratings(d.theta)
            return r - Z95 * sd, r + Z95 * sd

        return sandwich
    return lambda: percentile_intervals(
        identify_rounds(ident, bootstrap_davidson(counts, d, rng, rounds=params.rounds)[0])
    )


def _one_thread(fn: Callable[[], Bounds]) -> Bounds:
    with threadpool_limits(1, user_api="blas"):
        return fn()
