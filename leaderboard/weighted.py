"""Votes with inverse-propensity sampling weights: the weighted cells, the weighted battle bootstrap and
the weighted sandwich intervals.

When battles are sampled non-uniformly (``ARENA_SAMPLING=weighted|active``) each battle records
``w = 1 / (K P(pair))`` (see :mod:`leaderboard.active_sampling`). The Bradley-Terry fit of the weighted
counts ``sum w`` per cell estimates the ratings a uniform design would estimate (arXiv 2403.04132, eq. 7).
Its intervals:

* **sandwich**: :func:`leaderboard.sandwich.weighted_sandwich_cov`, whose meat needs ``sum w^2`` per cell;
* **bootstrap**: resample the *votes* with replacement and sum their weights. Votes of one cell with the
  same weight are interchangeable, so the votes are grouped by (cell, weight) and a round is one exact
  multinomial draw over the groups (:func:`leaderboard.bootstrap.multinomial_rounds`), each group's
  draw times its weight added to its cell; the round's fit is the same chord-Newton solve as the battle
  bootstrap. With every weight equal this is the battle bootstrap (the MLE does not change when all
  counts are scaled). Weights change only when the sampler's probabilities change (a new snapshot), so
  there are few groups per cell.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.sparse import csr_matrix

from leaderboard.bootstrap import multinomial_rounds, resampled_thetas
from leaderboard.bt import BTFit, Identification
from leaderboard.data import FloatArray, IntArray, PairCounts, aggregate, validate_battles
from leaderboard.sandwich import Z95, rating_cov, weighted_sandwich_cov


@dataclass(frozen=True)
class WeightedVotes:
    """``pairs``: the sum of the weights per cell (what the fit uses); ``pairs_sq``: the sum of the squared
    weights (same pairs; the sandwich meat); groups of interchangeable votes for the bootstrap:
    ``group_cell`` (cell ``o * P + p`` of ``pairs``), ``group_weight``, ``group_votes``."""

    pairs: PairCounts
    pairs_sq: PairCounts
    group_cell: IntArray
    group_weight: FloatArray
    group_votes: IntArray

    @property
    def n_votes(self) -> int:
        return int(self.group_votes.sum())

    @property
    def unit(self) -> bool:
        """Every weight is 1 (uniform sampling, or votes from before weights were recorded)."""
        return bool(np.all(self.group_weight == 1.0))


def weighted_votes(
    model_a: ArrayLike,
    model_b: ArrayLike,
    outcome: ArrayLike,
    n_models: int,
    weight: ArrayLike,
    votes: ArrayLike | None = None,
) -> WeightedVotes:
    """Group votes (or pre-grouped rows: ``votes`` votes of weight ``weight`` each) by cell and weight."""
    a, b, o = validate_battles(model_a, model_b, outcome, n_models)
    w = np.asarray(weight, dtype=np.float64)
    n = np.ones(len(a), dtype=np.int64) if votes is None else np.asarray(votes, dtype=np.int64)
    if w.shape != a.shape or n.shape != a.shape:
        raise ValueError("weight (and votes) must hold one entry per row")
    if len(w) and (not np.all(np.isfinite(w)) or np.any(w <= 0)):
        raise ValueError("sampling weights must be positive and finite")
    if np.any(n < 0):
        raise ValueError("vote counts must be >= 0")
    pairs = aggregate(a, b, o, n_models, n * w)
    pairs_sq = aggregate(a, b, o, n_models, n * w * w)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    oc = np.where(o >= 2, 2, np.where(a > b, 1 - np.minimum(o, 1), o))  # outcome seen from lo
    pair = np.searchsorted(pairs.i * n_models + pairs.j, lo * n_models + hi)
    cell = oc * len(pairs.i) + pair
    order = np.lexsort((w, cell))
    cell, w, n = cell[order], w[order], n[order]
    new = np.ones(len(cell), dtype=bool)
    new[1:] = (cell[1:] != cell[:-1]) | (w[1:] != w[:-1])
    start = np.flatnonzero(new)
    group_votes = np.add.reduceat(n, start) if len(start) else np.zeros(0, dtype=np.int64)
    return WeightedVotes(pairs, pairs_sq, cell[start], w[start], np.asarray(group_votes, dtype=np.int64))


RoundDraw = Callable[[np.random.Generator, int], tuple[FloatArray, FloatArray, FloatArray]]


def _draw(wv: WeightedVotes) -> RoundDraw:
    n_cells = 3 * len(wv.pairs.i)
    groups = len(wv.group_cell)
    spread = csr_matrix(
        (wv.group_weight, (wv.group_cell, np.arange(groups))), shape=(n_cells, groups)
    )  # cells x groups: a round's cell sums are one sparse product

    def draw(rng: np.random.Generator, rounds: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        counts = multinomial_rounds(wv.group_votes, rng, rounds).astype(np.float64)  # (rounds, groups)
        cells = np.asarray((spread @ counts.T).T)
        p = len(wv.pairs.i)
        return cells[:, :p], cells[:, p : 2 * p], cells[:, 2 * p :]

    return draw


def weighted_bootstrap_thetas(
    wv: WeightedVotes,
    fit: BTFit,
    rng: np.random.Generator,
    *,
    rounds: int = 1000,
    threads: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> FloatArray:
    """Theta of each round of the weighted vote bootstrap, shape (rounds, m); ``fit`` is the fit of
    ``wv.pairs``. NaN where a model drew no vote in a round."""
    return resampled_thetas(wv.pairs, fit, _draw(wv), rng, rounds=rounds, threads=threads, progress=progress)


def weighted_sandwich_intervals(
    wv: WeightedVotes, fit: BTFit, ident: Identification, *, z: float = Z95
) -> tuple[FloatArray, FloatArray]:
    """``rating -/+ z * sd`` from :func:`leaderboard.sandwich.weighted_sandwich_cov`."""
    ratings = ident.ratings(fit.theta)
    cov = rating_cov(weighted_sandwich_cov(wv.pairs, wv.pairs_sq, fit), ident)
    sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
    return ratings - z * sd, ratings + z * sd
