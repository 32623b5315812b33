"""Bradley-Terry maximum likelihood on aggregated pair counts, solved by Newton's method to the optimum.

Model: ``P(i beats j) = 1 / (1 + exp(theta_j - theta_i))``; a tie counts as half a win and half a loss.
Ratings are ``c + scale / ln(base) * theta`` (base 10, scale 400: the Elo scale); see
:class:`Identification` for the constant ``c``.

Degenerate data. The MLE exists (is finite) exactly when the directed "scored against" graph (edge i -> j
when i won or tied at least once against j) is strongly connected. Then we fit the plain MLE, no penalty,
and iterate Newton until the step is below ``tol`` (1e-10 in theta, i.e. ~2e-8 rating points), never
stopping at an iteration cap. Otherwise (a model with no wins or no losses, disconnected groups, a model
with no battles) we add a tiny ridge ``RIDGE/2 * sum(theta**2)`` that makes the objective strictly convex
and the optimum finite, and flag every model outside the largest strongly connected component as
*unrankable*: its rating is then set by the ridge, not the data, and should not be quoted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import expit

from leaderboard.data import FloatArray, PairCounts

RIDGE = 1e-4
DEFAULT_TOL = 1e-10
MAX_ITER = 1000  # a safety net only: Newton with line search on this convex objective needs ~5-40


@dataclass(frozen=True)
class BTFit:
    theta: FloatArray  # optimum; sums to zero over all models
    rankable: NDArray[np.bool_]
    ridge: float
    iterations: int
    max_step: float  # size of the last Newton step (theta units)
    grad_norm: float  # max |gradient| of the objective at ``theta``
    converged: bool


@dataclass(frozen=True)
class Identification:
    """Turns theta (shift-invariant) into ratings, the same way for the point fit and every bootstrap round.

    ``anchor is None``: the mean rating over rankable models is ``value`` (default 1000).
    Otherwise model ``anchor`` gets rating ``value`` (e.g. mixtral-8x7b-instruct-v0.1 = 1114).
    """

    scale_factor: float  # scale / ln(base)
    value: float
    anchor: int | None
    rankable: NDArray[np.bool_]

    @classmethod
    def make(
        cls,
        rankable: NDArray[np.bool_],
        *,
        base: float = 10.0,
        scale: float = 400.0,
        value: float = 1000.0,
        anchor: int | None = None,
    ) -> Identification:
        return cls(scale / math.log(base), value, anchor, np.asarray(rankable, dtype=bool))

    def ratings(self, theta: FloatArray) -> FloatArray:
        """Ratings for theta of shape ``(..., m)``."""
        if self.anchor is not None:
            ref = theta[..., self.anchor : self.anchor + 1]
        elif self.rankable.any():
            ref = theta[..., self.rankable].mean(axis=-1, keepdims=True)
        else:
            ref = theta.mean(axis=-1, keepdims=True) if theta.shape[-1] else theta
        return self.value + self.scale_factor * (theta - ref)

    def matrix(self) -> FloatArray:
        """``C`` with ``ratings = value + scale_factor * C @ theta`` (for propagating covariances)."""
        m = len(self.rankable)
        w = np.zeros(m)
        if self.anchor is not None:
            w[self.anchor] = 1.0
        elif self.rankable.any():
            w[self.rankable] = 1.0 / self.rankable.sum()
        elif m:
            w[:] = 1.0 / m
        return np.eye(m) - np.outer(np.ones(m), w)


def rankable_models(pc: PairCounts) -> tuple[NDArray[np.bool_], int]:
    """Mask of the largest strongly connected component of the scored-against graph, and the number of
    components (1 means the MLE exists and no ridge is needed)."""
    m = pc.n_models
    if m == 0:
        return np.zeros(0, dtype=bool), 0
    s_i, s_j = pc.i_score, pc.total - pc.i_score
    rows = np.concatenate([pc.i[s_i > 0], pc.j[s_j > 0]])
    cols = np.concatenate([pc.j[s_i > 0], pc.i[s_j > 0]])
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(m, m)).tocsr()
    n_comp, labels = connected_components(graph, directed=True, connection="strong")
    sizes = np.bincount(labels, minlength=n_comp)
    return labels == int(np.argmax(sizes)), int(n_comp)


def neg_log_likelihood(theta: FloatArray, pc: PairCounts, ridge: float = 0.0) -> float:
    d = theta[pc.i] - theta[pc.j]
    w = pc.i_score
    lw = pc.total - w
    # -log sigma(d) = logaddexp(0, -d), stable for large |d|
    nll = float(np.dot(w, np.logaddexp(0.0, -d)) + np.dot(lw, np.logaddexp(0.0, d)))
    return nll + 0.5 * ridge * float(np.dot(theta, theta))


def gradient(theta: FloatArray, pc: PairCounts, ridge: float = 0.0) -> FloatArray:
    """Gradient of :func:`neg_log_likelihood`."""
    m = pc.n_models
    r = pc.total * expit(theta[pc.i] - theta[pc.j]) - pc.i_score
    return np.bincount(pc.i, r, m) - np.bincount(pc.j, r, m) + ridge * theta


def hessian(theta: FloatArray, pc: PairCounts, ridge: float = 0.0) -> FloatArray:
    """Hessian of :func:`neg_log_likelihood`: a weighted graph Laplacian (+ ridge)."""
    p = expit(theta[pc.i] - theta[pc.j])
    return laplacian(pc.n_models, pc.i, pc.j, pc.total * p * (1 - p)) + ridge * np.eye(pc.n_models)


def laplacian(m: int, i: NDArray[np.int64], j: NDArray[np.int64], w: FloatArray) -> FloatArray:
    h = np.zeros((m, m))
    h[i, j] = -w
    h[j, i] = -w
    h[np.arange(m), np.arange(m)] = np.bincount(i, w, m) + np.bincount(j, w, m)
    return h


def regularised_hessian(h: FloatArray, ridge: float) -> FloatArray:
    """Without a ridge the Hessian is singular along the all-ones direction (ratings are shift invariant);
    adding ``11^T/m`` makes it invertible without changing the solution for gradients orthogonal to 1."""
    m = len(h)
    return h if ridge > 0 else h + np.full((m, m), 1.0 / max(m, 1))


def solve_spd(h: FloatArray, g: FloatArray) -> FloatArray:
    try:
        return np.asarray(scipy.linalg.cho_solve(scipy.linalg.cho_factor(h), g))
    except np.linalg.LinAlgError:
        return np.asarray(np.linalg.lstsq(h, g, rcond=None)[0])


def fit_bt(
    pc: PairCounts,
    *,
    ridge: float | None = None,
    tol: float = DEFAULT_TOL,
    theta0: FloatArray | None = None,
) -> BTFit:
    """Newton's method with Armijo backtracking. ``ridge=None`` picks 0 when the MLE exists, else RIDGE."""
    m = pc.n_models
    rankable, n_comp = rankable_models(pc)
    if ridge is None:
        ridge = 0.0 if n_comp <= 1 else RIDGE
    theta = np.zeros(m) if theta0 is None else np.array(theta0, dtype=np.float64)
    if m <= 1 or len(pc.i) == 0:
        return BTFit(np.zeros(m), np.ones(m, dtype=bool), ridge, 0, 0.0, 0.0, True)
    theta -= theta.mean()
    f = neg_log_likelihood(theta, pc, ridge)
    step_max = math.inf
    it = 0
    while it < MAX_ITER:
        it += 1
        g = gradient(theta, pc, ridge)
        delta = -solve_spd(regularised_hessian(hessian(theta, pc, ridge), ridge), g)
        delta -= delta.mean() if ridge == 0 else 0.0
        slope = float(np.dot(g, delta))
        t = 1.0
        while True:
            cand = theta + t * delta
            f_new = neg_log_likelihood(cand, pc, ridge)
            # the 1e-13*|f| slack accepts steps whose gain is below float resolution (at the optimum)
            if f_new <= f + 1e-4 * t * slope + 1e-13 * abs(f) or t < 1e-12:
                break
            t *= 0.5
        step_max = float(np.max(np.abs(delta)))
        theta, f = cand, f_new
        # Newton converges quadratically near the optimum: once the full step is tiny we are there.
        if step_max < tol or t < 1e-12:
            break
    grad = gradient(theta, pc, ridge)
    return BTFit(theta, rankable, ridge, it, step_max, float(np.max(np.abs(grad))), step_max < tol)
