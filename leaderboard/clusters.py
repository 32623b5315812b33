"""Intervals that stay honest when votes are not independent: cluster bootstrap and clustered sandwich.

A *cluster* is any grouping of votes that may share errors: the judge who cast them (one person's taste,
or a bot, casting many votes) or the conversation / prompt they came from. The battle bootstrap and the
plain sandwich treat every vote as independent; when one judge casts many correlated votes that
understates the uncertainty. Both methods here treat the *cluster* as the independent unit instead:

* **cluster bootstrap**: each round draws ``C`` clusters with replacement out of ``C`` and takes all of
  their votes (a cluster drawn twice counts twice). Implemented on aggregates: a sparse (clusters x cells)
  count matrix; a round's cell counts are ``multiplicities @ matrix``; the rating fit of each round is the
  same chord-Newton solve as the battle bootstrap (:func:`leaderboard.bootstrap.resampled_thetas`).
* **clustered sandwich**: ``H^+ M H^+`` with the meat ``M = sum_c s_c s_c^T`` built from the score summed
  over each cluster's votes, ``s_c = sum_{votes in c} (y - p)(e_i - e_j)``, times ``C / (C - 1)`` (the usual
  small-sample factor). With one vote per cluster it is the plain sandwich times ``C / (C - 1)``.

When every cluster holds one vote, resampling clusters is resampling battles: the two bootstraps have the
same distribution (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike
from scipy.sparse import coo_matrix, csr_matrix
from scipy.special import expit

from leaderboard.bootstrap import identify_rounds, percentile_intervals, resampled_thetas
from leaderboard.bt import BTFit, Identification, hessian, regularised_hessian
from leaderboard.data import FloatArray, IntArray, PairCounts, aggregate, validate_battles
from leaderboard.influence import CELL_SCORE, cell_counts
from leaderboard.sandwich import Z95, rating_cov


@dataclass(frozen=True)
class ClusterCells:
    """Votes per (cluster, cell): ``matrix[c, o * P + p]`` votes (or weights) of cluster ``c`` in cell
    ``o * P + p`` of ``pairs``; column sums are ``pairs``' cell counts. ``labels[c]`` is the caller's id
    of cluster ``c`` (sorted)."""

    pairs: PairCounts
    matrix: csr_matrix
    labels: IntArray
    by_cell: csr_matrix  # matrix transposed (cells x clusters): one sparse mat-vec per bootstrap round

    @property
    def n_clusters(self) -> int:
        return int(self.matrix.shape[0])


def cluster_cells(
    model_a: ArrayLike,
    model_b: ArrayLike,
    outcome: ArrayLike,
    n_models: int,
    cluster: ArrayLike,
    counts: ArrayLike | None = None,
) -> ClusterCells:
    """Aggregate battles into :class:`PairCounts` and the cluster x cell matrix. ``cluster`` holds one
    integer id per battle (judge, conversation, prompt: any ids)."""
    a, b, o = validate_battles(model_a, model_b, outcome, n_models)
    cl = np.asarray(cluster)
    if cl.shape != a.shape:
        raise ValueError("cluster must hold one id per battle")
    w = np.ones(len(a)) if counts is None else np.asarray(counts, dtype=np.float64)
    pc = aggregate(a, b, o, n_models, w)
    labels, cl_idx = np.unique(cl, return_inverse=True)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    # outcome seen from the lower index, as in leaderboard.data.aggregate: 0 = lo wins, 1 = hi wins, 2 = tie
    oc = np.where(o >= 2, 2, np.where(a > b, 1 - np.minimum(o, 1), o))
    keys = pc.i * n_models + pc.j
    pair = np.searchsorted(keys, lo * n_models + hi)
    n_pairs = len(pc.i)
    matrix = coo_matrix((w, (cl_idx.ravel(), oc * n_pairs + pair)), shape=(len(labels), 3 * n_pairs)).tocsr()
    return ClusterCells(pc, matrix, np.asarray(labels), matrix.T.tocsr())


def draw_cluster_rounds(
    cells: ClusterCells, rng: np.random.Generator, rounds: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``rounds`` cluster resamples: (i_wins, j_wins, ties), each of shape (rounds, P)."""
    n_c = cells.n_clusters
    p = len(cells.pairs.i)
    out = np.empty((rounds, 3 * p))
    for r in range(rounds):
        mult = np.bincount(rng.integers(0, n_c, size=n_c), minlength=n_c).astype(np.float64)
        out[r] = cells.by_cell @ mult
    return out[:, :p], out[:, p : 2 * p], out[:, 2 * p :]


def cluster_bootstrap_thetas(
    cells: ClusterCells,
    fit: BTFit,
    rng: np.random.Generator,
    *,
    rounds: int = 1000,
    threads: int = 2,
) -> FloatArray:
    """Theta of each cluster-bootstrap round, shape (rounds, m); NaN where a model drew no battle."""
    return resampled_thetas(
        cells.pairs,
        fit,
        lambda g, r: draw_cluster_rounds(cells, g, r),
        rng,
        rounds=rounds,
        threads=threads,
    )


def cluster_bootstrap_intervals(
    cells: ClusterCells,
    fit: BTFit,
    ident: Identification,
    rng: np.random.Generator,
    *,
    rounds: int = 1000,
    level: float = 0.95,
    threads: int = 2,
) -> tuple[FloatArray, FloatArray]:
    thetas = cluster_bootstrap_thetas(cells, fit, rng, rounds=rounds, threads=threads)
    return percentile_intervals(identify_rounds(ident, thetas), level)


def clustered_sandwich_cov(cells: ClusterCells, fit: BTFit, *, small_sample: bool = True) -> FloatArray:
    """Cluster-robust covariance of theta (m x m): ``H^+ (sum_c s_c s_c^T) H^+`` (times ``C/(C-1)``)."""
    pc = cells.pairs
    m, n_pairs = pc.n_models, len(pc.i)
    if m == 0 or n_pairs == 0:
        return np.zeros((m, m))
    p = expit(fit.theta[pc.i] - fit.theta[pc.j])
    resid = (CELL_SCORE[:, None] - p[None, :]).ravel()  # (3P,) score of model i per vote of the cell
    rows = np.arange(3 * n_pairs)
    grad = csr_matrix(
        (
            np.concatenate([resid, -resid]),
            (np.concatenate([rows, rows]), np.concatenate([np.tile(pc.i, 3), np.tile(pc.j, 3)])),
        ),
        shape=(3 * n_pairs, m),
    )
    s = cells.matrix @ grad  # (C, m): summed score of each cluster
    meat = np.asarray((s.T @ s).toarray())
    n_c = cells.n_clusters
    if small_sample and n_c > 1:
        meat *= n_c / (n_c - 1)
    h = regularised_hessian(hessian(fit.theta, pc, fit.ridge), fit.ridge)
    h_inv = scipy.linalg.pinvh(h) if not np.all(np.isfinite(h)) else np.linalg.inv(h)
    return np.asarray(h_inv @ meat @ h_inv)


def clustered_sandwich_intervals(
    cells: ClusterCells, fit: BTFit, ident: Identification, *, z: float = Z95, small_sample: bool = True
) -> tuple[FloatArray, FloatArray]:
    """``rating -/+ z * sd`` from :func:`clustered_sandwich_cov`."""
    ratings = ident.ratings(fit.theta)
    cov = rating_cov(clustered_sandwich_cov(cells, fit, small_sample=small_sample), ident)
    sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
    return ratings - z * sd, ratings + z * sd


def check_cells(cells: ClusterCells) -> None:
    """Raise ``ValueError`` unless the matrix's column sums are the pair counts (consistency guard)."""
    if not np.allclose(np.asarray(cells.matrix.sum(axis=0)).ravel(), cell_counts(cells.pairs)):
        raise ValueError("cluster matrix does not add up to the pair counts")
