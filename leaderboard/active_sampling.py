"""Which pair of models the next battle shows: uniform, operator weights, or active sampling, with the
inverse-propensity weights that keep the ratings unbiased under non-uniform sampling.

Every sampler returns :class:`PairProbabilities` over the unordered pairs of the eligible models. A battle
records its pair's propensity as the weight ``w = 1 / (K P(pair))`` (``K`` pairs): 1 under uniform
sampling, so weighted and unweighted fits agree there, and ``E[w] = 1`` under any sampler. Fitting
Bradley-Terry on the weighted counts (``leaderboard.data.aggregate(..., counts=w)``) estimates the ratings
a uniform design would estimate, whatever the sampler did (arXiv 2403.04132, eq. 7); intervals then come
from :func:`leaderboard.sandwich.weighted_sandwich_cov` (the meat needs the squared weights).

Active rules ("how much would one more vote of this pair shrink the intervals"):

* ``"paper"``: arXiv 2403.04132 §5, eq. 9, literally: ``P(a) ∝ sqrt(S_aa / n_a) - sqrt(S_aa / (n_a + 1))``
  with ``n_a`` the pair's votes and ``S_aa`` (eq. 5) the variance of the inverse-propensity-weighted
  win indicator ``X_t(a) = y_t w_t 1{A_t = a}`` over all T votes. It targets the win-matrix intervals. One
  pseudo-vote (``y = 1/2``, ``w = 1``) per pair keeps unseen pairs from a 0/0.
* ``"bt"`` (ours): the same principle aimed at the rating intervals. With ``V`` the rating covariance
  from the Fisher information of the votes so far (plus a prior of one pseudo-vote's information per model
  so that new models have finite variance), one more vote of pair ``(i, j)`` gives, by Sherman-Morrison,
  ``V' = V - h z z^T / (1 + h u^T V u)`` with ``u = e_i - e_j``, ``z = V u`` and ``h = p (1 - p)`` at the
  current fit; ``P(i, j) ∝ sum_k sqrt(V_kk) - sqrt(V'_kk)``, the drop of the summed interval widths.
  This is the right criterion for the *unweighted* maximum-likelihood fit.
* ``"neyman"`` (ours): the allocation that minimises the summed rating s.d. of the *weighted* fit
  (see :func:`_neyman_gain`): the best any sampler can do once the fit is inverse-propensity weighted.

All rules are mixed with uniform: ``P = (1 - floor) P_rule + floor / K``, so every pair keeps at least
``floor`` of its uniform share (and weights stay below ``1 / floor``). ``floor = 1`` is uniform: the
kill switch, as is the ``uniform`` mode. The default rule is ``"neyman"``, the one that measured best for
the weighted fit.

What to expect (bench/sampling.py, derivation in docs/leaderboard.md): inverse-propensity weighting undoes
most of what sampling informative pairs buys. With an Arena-like rating spread (sd 120 points) even an
oracle design saves under 1% of the votes for the same summed rating variance of the weighted fit, and
the measured samplers save 0-1%; the paper's literal rule needs 2-6% *more* votes for the rating
intervals (it targets the win matrix). Larger gains need a wide spread (sd 300: 6-9% fewer votes for
the mean width, 29-41% for the widest interval). The weights are still what keeps the ratings unbiased
when the Bradley-Terry model is not exactly right (tested).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit

from leaderboard.bt import fit_bt, hessian, laplacian
from leaderboard.data import FloatArray, IntArray, PairCounts, aggregate

SAMPLING_MODES = ("uniform", "weighted", "active")
ACTIVE_RULES = ("bt", "neyman", "paper")
ActiveRule = Literal["bt", "neyman", "paper"]
DEFAULT_FLOOR = 0.2


@dataclass(frozen=True)
class PairProbabilities:
    """Probability of each unordered pair ``(i[k], j[k])``, ``i < j``; sums to 1."""

    i: IntArray
    j: IntArray
    prob: FloatArray

    def draw(self, rng: np.random.Generator, size: int) -> tuple[IntArray, IntArray, FloatArray]:
        """``size`` battles: (model_a, model_b, weight); sides in random order, ``weight = 1/(K P)``."""
        k = rng.choice(len(self.prob), size=size, p=self.prob)
        swap = rng.random(size) < 0.5
        a = np.where(swap, self.j[k], self.i[k])
        b = np.where(swap, self.i[k], self.j[k])
        return a, b, self.weights(k)

    def weights(self, pair_index: IntArray) -> FloatArray:
        return np.asarray(1.0 / (len(self.prob) * self.prob[pair_index]))


@dataclass(frozen=True)
class SamplingData:
    """The counted votes aggregated three ways: vote counts, the sum of the weights and of the squared
    weights per cell (what the sampler and the weighted fit need; one GROUP BY in SQL)."""

    counts: PairCounts
    weight_sum: PairCounts
    weight_sq: PairCounts

    @classmethod
    def from_votes(
        cls, model_a: ArrayLike, model_b: ArrayLike, outcome: ArrayLike, weight: ArrayLike, n_models: int
    ) -> SamplingData:
        w = np.asarray(weight, dtype=np.float64)
        if np.any(~np.isfinite(w)) or np.any(w <= 0):
            raise ValueError("sampling weights must be positive and finite")
        return cls(
            aggregate(model_a, model_b, outcome, n_models),
            aggregate(model_a, model_b, outcome, n_models, w),
            aggregate(model_a, model_b, outcome, n_models, w * w),
        )


def eligible_pairs(n_models: int, eligible: ArrayLike | None = None) -> tuple[IntArray, IntArray]:
    idx = np.arange(n_models) if eligible is None else np.flatnonzero(np.asarray(eligible, dtype=bool))
    if len(idx) < 2:
        raise ValueError("sampling needs at least two eligible models")
    i, j = np.triu_indices(len(idx), k=1)
    return idx[i], idx[j]


def uniform_probabilities(n_models: int, eligible: ArrayLike | None = None) -> PairProbabilities:
    i, j = eligible_pairs(n_models, eligible)
    return PairProbabilities(i, j, np.full(len(i), 1.0 / len(i)))


def weighted_probabilities(model_weights: ArrayLike, eligible: ArrayLike | None = None) -> PairProbabilities:
    """``P(i, j) ∝ w_i w_j`` (operator-set per-model weights, as FastChat's sampling weights)."""
    w = np.asarray(model_weights, dtype=np.float64)
    if np.any(~np.isfinite(w)) or np.any(w < 0):
        raise ValueError("model weights must be finite and >= 0")
    i, j = eligible_pairs(len(w), eligible)
    p = w[i] * w[j]
    if p.sum() <= 0:
        raise ValueError("model weights give every pair probability 0")
    return PairProbabilities(i, j, p / p.sum())


def with_floor(probs: PairProbabilities, floor: float) -> PairProbabilities:
    if not 0.0 <= floor <= 1.0:
        raise ValueError("floor must be between 0 and 1")
    k = len(probs.prob)
    return PairProbabilities(probs.i, probs.j, (1.0 - floor) * probs.prob + floor / k)


def active_probabilities(
    data: SamplingData,
    *,
    rule: ActiveRule = "neyman",
    floor: float = DEFAULT_FLOOR,
    eligible: ArrayLike | None = None,
) -> PairProbabilities:
    """Active sampling (see the module docstring), mixed with uniform by ``floor``."""
    if rule not in ACTIVE_RULES:
        raise ValueError(f"unknown active rule {rule!r}: use one of {', '.join(ACTIVE_RULES)}")
    m = data.counts.n_models
    i, j = eligible_pairs(m, eligible)
    gain = (
        _paper_gain(data, i, j)
        if rule == "paper"
        else (_neyman_gain(data, i, j) if rule == "neyman" else _bt_gain(data, i, j))
    )
    gain = np.maximum(np.nan_to_num(gain, nan=0.0, posinf=0.0), 0.0)
    k = len(i)
    base = gain / gain.sum() if gain.sum() > 0 else np.full(k, 1.0 / k)
    return with_floor(PairProbabilities(i, j, base), floor)


def _lookup(pc: PairCounts, i: IntArray, j: IntArray) -> NDArray[np.int64]:
    """Index of each (i, j) in ``pc``'s pairs, -1 when the pair never met."""
    m = pc.n_models
    keys = pc.i * m + pc.j
    want = i * m + j
    pos = np.searchsorted(keys, want)
    pos_c = np.minimum(pos, max(len(keys) - 1, 0))
    found = (pos < len(keys)) & (keys[pos_c] == want) if len(keys) else np.zeros(len(want), dtype=bool)
    return np.where(found, pos_c, -1)


def _gather(values: FloatArray, idx: NDArray[np.int64]) -> FloatArray:
    return np.where(idx >= 0, values[np.maximum(idx, 0)] if len(values) else 0.0, 0.0)


def _paper_gain(data: SamplingData, i: IntArray, j: IntArray) -> FloatArray:
    idx = _lookup(data.counts, i, j)
    n = _gather(data.counts.total, idx) + 1.0  # one pseudo-vote per pair: y = 1/2, w = 1
    ws, wq = data.weight_sum, data.weight_sq
    s1 = _gather(ws.i_wins + 0.5 * ws.ties, idx) + 0.5  # sum of y w over the pair's votes
    s2 = _gather(wq.i_wins + 0.25 * wq.ties, idx) + 0.25  # sum of (y w)^2
    t = float(data.counts.total.sum()) + len(i)
    sigma = np.maximum(s2 / t - (s1 / t) ** 2, 0.0)
    return np.asarray(np.sqrt(sigma / n) - np.sqrt(sigma / (n + 1.0)))


def _bt_gain(data: SamplingData, i: IntArray, j: IntArray) -> FloatArray:
    m = data.counts.n_models
    theta = fit_bt(data.weight_sum).theta if len(data.counts.i) else np.zeros(m)
    elig = np.unique(np.concatenate([i, j]))
    pos = np.full(m, -1)
    pos[elig] = np.arange(len(elig))
    # Fisher information of the votes so far (the counts, not the weights), plus one pseudo-vote's
    # information (1/4) per model so that models without votes get a finite variance.
    info = hessian(theta, data.counts)[np.ix_(elig, elig)] + 0.25 * np.eye(len(elig))
    h_inv = np.linalg.inv(info)
    c = np.eye(len(elig)) - 1.0 / len(elig)  # mean identification over the eligible models
    v = c @ h_inv @ c.T
    pi, pj = pos[i], pos[j]
    z = (c @ (h_inv[:, pi] - h_inv[:, pj])).T  # (K, m'): V u for every pair (C^T u = u)
    q = h_inv[pi, pi] + h_inv[pj, pj] - 2.0 * h_inv[pi, pj]
    p = expit(theta[i] - theta[j])
    h = p * (1.0 - p)
    sd = np.sqrt(np.maximum(np.diag(v), 0.0))
    new_var = np.diag(v)[None, :] - (h / (1.0 + h * q))[:, None] * z * z
    return np.asarray((sd[None, :] - np.sqrt(np.maximum(new_var, 0.0))).sum(axis=1))


def _neyman_gain(data: SamplingData, i: IntArray, j: IntArray) -> FloatArray:
    """Allocation minimising the summed rating s.d. of the inverse-propensity-weighted fit.

    The weighted estimate is ``theta + H_u^-1 (1/T) sum_t w_t u_t (y_t - p_t)`` to first order, with
    ``H_u = (1/K) sum_a h_a u_a u_a^T`` the per-vote information of the *uniform* design (the target).
    So ``Var(rating_k) = (1/T) sum_a G_ak^2 / P_a`` with ``G_a = C H_u^-1 u_a sqrt(h_a) / K``, and
    minimising ``sum_k sd_k`` over the simplex gives ``P_a ∝ sqrt(sum_k G_ak^2 / sd_k)`` (a fixed point,
    five iterations from uniform). Its gain over uniform is bounded by how unequal the ``|G_a|`` are."""
    m = data.counts.n_models
    theta = fit_bt(data.weight_sum).theta if len(data.counts.i) else np.zeros(m)
    return _neyman_allocation(theta, i, j)


def _neyman_allocation(theta: FloatArray, i: IntArray, j: IntArray) -> FloatArray:
    """The fixed point of :func:`_neyman_gain` for ratings ``theta`` (the rule depends on nothing else)."""
    m = len(theta)
    elig = np.unique(np.concatenate([i, j]))
    pos = np.full(m, -1)
    pos[elig] = np.arange(len(elig))
    pi, pj = pos[i], pos[j]
    p = expit(theta[i] - theta[j])
    h = p * (1.0 - p)
    k, me = len(i), len(elig)
    hu_inv = np.linalg.inv(laplacian(me, pi, pj, h / k) + 1.0 / me)
    c = np.eye(me) - 1.0 / me
    g2 = ((c @ (hu_inv[:, pi] - hu_inv[:, pj])).T * np.sqrt(h)[:, None]) ** 2  # (K, m'), up to 1/K^2
    prob = np.full(k, 1.0 / k)
    for _ in range(5):
        sd = np.sqrt((g2 / prob[:, None]).sum(axis=0))
        prob = np.sqrt((g2 / np.maximum(sd, 1e-300)[None, :]).sum(axis=1))
        prob /= prob.sum()
    return prob


def sequential_probabilities(model_weights: ArrayLike) -> PairProbabilities:
    """The exact pair probabilities of drawing the first model by weight and the second by weight among
    the rest, sides at random (the arena's ``weighted`` mode, ``arena_app.services.sampling.sample_pair``):
    ``P(i, j) = w_i w_j / W * (1 / (W - w_i) + 1 / (W - w_j))``. Models of weight 0 are never drawn and
    are left out of the pairs; equal weights give the uniform design (every battle weight 1)."""
    w = np.asarray(model_weights, dtype=np.float64)
    if np.any(~np.isfinite(w)) or np.any(w < 0):
        raise ValueError("model weights must be finite and >= 0")
    i, j = eligible_pairs(len(w), w > 0)
    total = float(w.sum())
    p = w[i] * w[j] / total * (1.0 / (total - w[i]) + 1.0 / (total - w[j]))
    return PairProbabilities(i, j, p / p.sum())  # sums to 1 up to rounding


def theta_probabilities(
    theta: ArrayLike, *, floor: float = DEFAULT_FLOOR, eligible: ArrayLike | None = None
) -> PairProbabilities:
    """The ``"neyman"`` rule from ratings alone (``theta`` on the natural-log scale: rating * ln(10) / 400):
    the rule needs nothing else, so a sampler can take it from a stored snapshot without any fit. Mixed
    with uniform by ``floor`` like :func:`active_probabilities`."""
    th = np.asarray(theta, dtype=np.float64)
    if th.ndim != 1 or not np.all(np.isfinite(th)):
        raise ValueError("theta must be a 1-D array of finite numbers")
    i, j = eligible_pairs(len(th), eligible)
    gain = np.maximum(np.nan_to_num(_neyman_allocation(th, i, j), nan=0.0, posinf=0.0), 0.0)
    k = len(i)
    base = gain / gain.sum() if gain.sum() > 0 else np.full(k, 1.0 / k)
    return with_floor(PairProbabilities(i, j, base), floor)
