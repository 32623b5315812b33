"""How much one removed vote moves a Bradley-Terry rating difference: first-order and one-step influence.

Everything works on the aggregated *cells* of :class:`leaderboard.data.PairCounts`: cell ``k = o * P + p``
holds the votes of pair ``p`` (models ``i < j``) with outcome ``o`` seen from ``i`` (0 = ``i`` wins, 1 = ``j``
wins, 2 = tie of either kind). Votes of one cell are interchangeable for the fit, so an influence computed
per cell is exact aggregation: the work is O(pairs), never O(votes).

Derivation. The objective is ``f(theta) = sum_k c_k l_k(theta) (+ ridge/2 |theta|^2)`` with the per-vote
loss ``l_k = -y log s(d) - (1 - y) log(1 - s(d))``, ``d = theta_i - theta_j``, ``y`` = 1, 0, 1/2 and
gradient ``grad l_k = (p - y) u`` where ``p = s(d)`` and ``u = e_i - e_j``. The fitted ``theta`` solves
``grad f = 0``. Removing ``c`` votes of cell ``k`` leaves ``f - c l_k`` whose gradient at the old optimum is
``-c (p - y) u``; one Newton step from there gives

    delta theta = c (p - y) (H - c h u u^T)^{-1} u = c (p - y) H^{-1} u / (1 - c h u^T H^{-1} u)

with ``h = p (1 - p)`` (Sherman-Morrison; the "one-step" estimate, Pregibon 1981). Dropping the
denominator gives the first-order (infinitesimal-jackknife) influence ``c (p - y) H^{-1} u``, the
quantity the AMIP method of Broderick et al. and of arXiv 2508.11847 sorts by. For the difference
``theta_a - theta_b`` both are ``(p - y) (v_i - v_j)`` times ``c`` (and the one-step factor), where
``v = H^{-1} (e_a - e_b)``: one m x m inverse serves every cell and every pair of models.

Without a ridge ``H`` is singular along the all-ones direction; ``H + 11^T/m`` (see
:func:`leaderboard.bt.regularised_hessian`) acts as the pseudo-inverse on every ``u`` orthogonal to 1,
which is all we apply it to.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from leaderboard.bt import BTFit, hessian, regularised_hessian
from leaderboard.data import FloatArray, PairCounts

# The score of model i for a cell's outcome (0 = i wins, 1 = j wins, 2 = tie).
CELL_SCORE = np.array([1.0, 0.0, 0.5])
CELL_OUTCOMES = ("model_a", "model_b", "tie")  # winner names of a cell, model_a = pair's lower index


def cell_counts(pc: PairCounts) -> FloatArray:
    """The 3P cell counts, laid out ``[i_wins, j_wins, ties]`` (cell ``o * P + p``)."""
    return np.concatenate([pc.i_wins, pc.j_wins, pc.ties])


def with_cell_counts(pc: PairCounts, counts: FloatArray) -> PairCounts:
    p = len(pc.i)
    return pc.with_counts(counts[:p], counts[p : 2 * p], counts[2 * p :])


def inverse_hessian(pc: PairCounts, fit: BTFit) -> FloatArray:
    """``(H + 11^T/m)^{-1}`` (or ``(H + ridge I)^{-1}``) at the fit: the pseudo-inverse on differences."""
    h = regularised_hessian(hessian(fit.theta, pc, fit.ridge), fit.ridge)
    return np.asarray(np.linalg.inv(h))


def removal_effects(
    pc: PairCounts, fit: BTFit, h_inv: FloatArray, a: int, b: int, *, one_step: bool = False
) -> FloatArray:
    """Change of ``theta_a - theta_b`` when ONE vote of each cell is removed (3P values).

    First order by default; ``one_step=True`` adds the Sherman-Morrison factor ``1 / (1 - h u^T H^-1 u)``
    (one exact Newton step on the reduced data, noticeably closer for cells of rarely-met pairs).
    """
    d = fit.theta[pc.i] - fit.theta[pc.j]
    p = expit(d)
    v = h_inv[:, a] - h_inv[:, b]
    q = v[pc.i] - v[pc.j]
    resid = p[None, :] - CELL_SCORE[:, None]  # (3, P)
    eff = resid * q[None, :]
    if one_step:
        eff = eff / (1.0 - _leverage(pc, p, h_inv))[None, :]
    return np.asarray(eff.ravel())


def _leverage(pc: PairCounts, p: FloatArray, h_inv: FloatArray) -> FloatArray:
    """``h u^T H^{-1} u`` per pair: the weight one vote of the pair carries in the fit (< 1)."""
    quad = h_inv[pc.i, pc.i] + h_inv[pc.j, pc.j] - 2.0 * h_inv[pc.i, pc.j]
    return np.asarray(p * (1.0 - p) * quad)


def predicted_change(
    pc: PairCounts, fit: BTFit, h_inv: FloatArray, a: int, b: int, removed: FloatArray
) -> float:
    """First-order change of ``theta_a - theta_b`` when ``removed`` (3P counts) votes are dropped."""
    return float(removal_effects(pc, fit, h_inv, a, b) @ removed)


def removal_room(counts: FloatArray, original: FloatArray) -> FloatArray:
    """How many votes each cell could lose on its own so that every "scored against" edge of the
    ``original`` data survives: for each pair, at least one vote in which ``i`` scored (won or tied) and
    one in which ``j`` scored stays, where the original had one. Within that room the strongly connected
    components, hence the rankable models and the existence of a finite MLE, never change. The rooms of a
    pair's cells are not independent (a tie serves both directions): :class:`Room` tracks them jointly."""
    return Room(counts, original).all()


class Room:
    """Joint removal room of the cells (see :func:`removal_room`), updated as votes are taken."""

    def __init__(self, counts: FloatArray, original: FloatArray) -> None:
        p = len(counts) // 3
        self.p = p
        self.counts = counts.astype(np.float64, copy=True)
        keep_i = (original[:p] + original[2 * p :] >= 1).astype(np.float64)
        keep_j = (original[p : 2 * p] + original[2 * p :] >= 1).astype(np.float64)
        self.slack_i = counts[:p] + counts[2 * p :] - keep_i
        self.slack_j = counts[p : 2 * p] + counts[2 * p :] - keep_j

    def of(self, k: int) -> float:
        pair, outcome = k % self.p, k // self.p
        room = float(self.counts[k])
        if outcome != 1:  # i wins or tie: an i-scoring vote
            room = min(room, float(self.slack_i[pair]))
        if outcome != 0:  # j wins or tie: a j-scoring vote
            room = min(room, float(self.slack_j[pair]))
        return max(np.floor(room + 1e-9), 0.0)

    def all(self) -> FloatArray:
        p = self.p
        si, sj = self.slack_i, self.slack_j
        c = self.counts
        room = np.concatenate(
            [np.minimum(c[:p], si), np.minimum(c[p : 2 * p], sj), np.minimum(c[2 * p :], np.minimum(si, sj))]
        )
        return np.asarray(np.maximum(np.floor(room + 1e-9), 0.0))

    def take(self, k: int, x: float) -> None:
        pair, outcome = k % self.p, k // self.p
        self.counts[k] -= x
        if outcome != 1:
            self.slack_i[pair] -= x
        if outcome != 0:
            self.slack_j[pair] -= x


def cell_leverage(pc: PairCounts, fit: BTFit, h_inv: FloatArray) -> FloatArray:
    """Per cell (3P): the leverage ``h u^T H^-1 u`` of one vote of the cell's pair."""
    lev = _leverage(pc, expit(fit.theta[pc.i] - fit.theta[pc.j]), h_inv)
    return np.asarray(np.tile(lev, 3))


def take_votes(
    effects: FloatArray,
    counts: FloatArray,
    original: FloatArray,
    amount: float,
    *,
    leverage: FloatArray | None = None,
    limit: float = np.inf,
) -> FloatArray:
    """Votes to remove (3P counts) so that the predicted change reaches ``-amount`` (``amount`` > 0): cells
    with the most negative per-vote effect first, each within its :class:`Room`, at most ``limit`` votes.
    With ``leverage`` the prediction for ``x`` votes of one cell is the one-step ``x e / (1 - x lev)``
    (the cell's own information leaving the Hessian makes each further vote count more), else the
    first-order ``x e``. Returns fewer votes when the negative-effect cells or the limit run out."""
    take = np.zeros_like(counts)
    room = Room(counts, original)
    reached = 0.0
    left = float(limit)
    for k in np.argsort(effects, kind="stable").tolist():
        e = float(effects[k])
        if e >= 0 or reached >= amount or left < 1:
            break
        r = min(room.of(k), np.floor(left))
        if r <= 0:
            continue
        rem = amount - reached
        lev = 0.0 if leverage is None else float(leverage[k])
        x = min(r, float(np.ceil(rem / (-e + rem * lev) - 1e-12)))
        if lev > 0:
            x = min(x, float(np.floor(0.5 / lev)))  # stay well inside the one-step formula's pole
            x = max(x, 1.0)
        take[k] = x
        room.take(k, x)
        left -= x
        reached += x * -e / (1.0 - min(x * lev, 0.9))
    return take
