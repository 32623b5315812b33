"""Ties modelled, not halved: the Davidson (1970) extension of Bradley-Terry, fitted exactly by Newton.

Model, for models ``i`` and ``j`` with ``a = (theta_i - theta_j) / 2`` and tie parameter ``nu >= 0``:

    P(i wins) = e^a / Z,   P(j wins) = e^-a / Z,   P(tie) = nu / Z,   Z = e^a + e^-a + nu

(Davidson's ``pi_i / (pi_i + pi_j + nu sqrt(pi_i pi_j))`` with ``pi = e^theta``). Among decisive votes
``P(i beats j) = 1 / (1 + e^{theta_j - theta_i})`` exactly as in Bradley-Terry, so ratings keep the Elo
scale (``400 / ln 10 * theta``) and the identification of :class:`leaderboard.bt.Identification`. Between two
equal models a vote is a tie with probability ``nu / (2 + nu)``; ties are likelier the closer two models
are. With no ties at all ``nu = 0`` and the model *is* Bradley-Terry on the decisive votes (we then return
that fit exactly). Compared with ties-as-half, the ratings spread a little more: a tie is evidence that
two models are close, not half a win.

Optional ``tie (bothbad)`` as its own outcome: ``P(tie) = nu_tie / Z``, ``P(both bad) = nu_bothbad / Z``,
``Z = e^a + e^-a + nu_tie + nu_bothbad``. Its likelihood factorises: the ratings and ``nu = nu_tie +
nu_bothbad`` are exactly those of the one-tie model, and ``nu_tie / nu = share of plain ties``. We chose this
(over "both bad" depending on how strong the pair is) because anything that depends on ``theta_i + theta_j``
breaks the shift invariance of the ratings and would need an absolute scale the votes do not have.

The negative log-likelihood is convex in ``(theta, log nu)`` (a multinomial logit with linear predictors);
Newton with Armijo backtracking on ``x = (theta, kappa = log nu)`` with the analytic gradient and Hessian runs
to a step below ``tol``. Existence of a finite optimum: the same "scored against" condition as
:func:`leaderboard.bt.rankable_models` (a tie scores both ways) plus ``0 < ties < votes``; otherwise a tiny
ridge on ``theta`` as in :mod:`leaderboard.bt`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from leaderboard.bootstrap import multinomial_rounds
from leaderboard.bt import RIDGE, fit_bt, laplacian, rankable_models, solve_spd
from leaderboard.data import FloatArray, PairCounts
from leaderboard.sandwich import Z95

DEFAULT_TOL = 1e-10
MAX_ITER = 500


@dataclass(frozen=True)
class DavidsonFit:
    theta: FloatArray  # sums to zero over all models
    log_nu: float  # -inf when there are no ties, +inf when every vote is a tie
    rankable: NDArray[np.bool_]
    ridge: float
    iterations: int
    grad_norm: float
    converged: bool
    nu_tie: float | None = None  # with bothbad separate: the split of nu (nu_tie + nu_bothbad = nu)
    nu_bothbad: float | None = None

    @property
    def nu(self) -> float:
        return math.exp(self.log_nu) if self.log_nu < 700 else math.inf

    @property
    def tie_probability_equal(self) -> float:
        """P(tie) between two equally strong models: ``nu / (2 + nu)``."""
        nu = self.nu
        return 1.0 if math.isinf(nu) else nu / (2.0 + nu)


def _probs(x: FloatArray, pc: PairCounts) -> tuple[FloatArray, FloatArray, FloatArray]:
    m = pc.n_models
    a = 0.5 * (x[:m][pc.i] - x[:m][pc.j])
    log_z = np.logaddexp(np.logaddexp(a, -a), x[m])
    return np.exp(a - log_z), np.exp(-a - log_z), np.exp(x[m] - log_z)


def neg_log_likelihood(x: FloatArray, pc: PairCounts, ridge: float = 0.0) -> float:
    """``x = (theta, log nu)``; ties merged in ``pc.ties``."""
    m = pc.n_models
    theta, kappa = x[:m], float(x[m])
    a = 0.5 * (theta[pc.i] - theta[pc.j])
    log_z = np.logaddexp(np.logaddexp(a, -a), kappa)
    nll = float(pc.total @ log_z - (pc.i_wins - pc.j_wins) @ a - pc.ties.sum() * kappa)
    return nll + 0.5 * ridge * float(theta @ theta)


def gradient(x: FloatArray, pc: PairCounts, ridge: float = 0.0) -> FloatArray:
    m = pc.n_models
    pi, pj, pt = _probs(x, pc)
    n = pc.total
    g_d = 0.5 * (n * (pi - pj) - (pc.i_wins - pc.j_wins))  # d nll / d (theta_i - theta_j)
    g_theta = np.bincount(pc.i, g_d, m) - np.bincount(pc.j, g_d, m) + ridge * x[:m]
    return np.concatenate([g_theta, [float(n @ pt - pc.ties.sum())]])


def hessian(x: FloatArray, pc: PairCounts, ridge: float = 0.0) -> FloatArray:
    m = pc.n_models
    pi, pj, pt = _probs(x, pc)
    n = pc.total
    h = np.zeros((m + 1, m + 1))
    h[:m, :m] = laplacian(m, pc.i, pc.j, 0.25 * n * (pi + pj - (pi - pj) ** 2)) + ridge * np.eye(m)
    cross = -0.5 * n * (pi - pj) * pt
    h[:m, m] = h[m, :m] = np.bincount(pc.i, cross, m) - np.bincount(pc.j, cross, m)
    h[m, m] = float(n @ (pt * (1.0 - pt)))
    return h


def _regularised(h: FloatArray, ridge: float) -> FloatArray:
    """The all-ones shift of theta is a null direction without a ridge: pin it as bt does."""
    if ridge > 0:
        return h
    m = len(h) - 1
    out = h.copy()
    out[:m, :m] += 1.0 / max(m, 1)
    return out


def fit_davidson(
    pc: PairCounts,
    *,
    bothbad: float | None = None,
    ridge: float | None = None,
    tol: float = DEFAULT_TOL,
    theta0: FloatArray | None = None,
    log_nu0: float | None = None,
) -> DavidsonFit:
    """MLE of ``(theta, nu)``. ``bothbad``: how many of ``pc.ties`` were "tie (bothbad)"; when given,
    ``nu`` is also reported split into ``nu_tie`` and ``nu_bothbad`` (see the module docstring)."""
    m = pc.n_models
    rankable, n_comp = rankable_models(pc)
    if ridge is None:
        ridge = 0.0 if n_comp <= 1 else RIDGE
    ties, total = float(pc.ties.sum()), float(pc.total.sum())
    if m <= 1 or len(pc.i) == 0 or ties <= 0 or ties >= total:
        log_nu = -math.inf if ties <= 0 else math.inf
        if ties <= 0 and m > 1 and len(pc.i):
            bt = fit_bt(pc, ridge=ridge, tol=tol)  # no ties: Davidson is Bradley-Terry (nu = 0)
            return _split(
                DavidsonFit(bt.theta, log_nu, rankable, ridge, bt.iterations, bt.grad_norm, bt.converged),
                bothbad,
                ties,
            )
        return _split(DavidsonFit(np.zeros(m), log_nu, rankable, ridge, 0, 0.0, True), bothbad, ties)
    if theta0 is None:
        theta0 = fit_bt(pc, ridge=ridge).theta
    if log_nu0 is None:
        log_nu0 = math.log(2.0 * ties / (total - ties))  # nu / (2 + nu) = the pooled tie rate
    x = np.concatenate([np.asarray(theta0, dtype=np.float64) - np.mean(theta0), [log_nu0]])
    f = neg_log_likelihood(x, pc, ridge)
    step = math.inf
    it = 0
    while it < MAX_ITER:
        it += 1
        g = gradient(x, pc, ridge)
        delta = -solve_spd(_regularised(hessian(x, pc, ridge), ridge), g)
        if ridge == 0:
            delta[:m] -= delta[:m].mean()
        slope = float(g @ delta)
        t = 1.0
        while True:
            cand = x + t * delta
            f_new = neg_log_likelihood(cand, pc, ridge)
            if f_new <= f + 1e-4 * t * slope + 1e-13 * abs(f) or t < 1e-12:
                break
            t *= 0.5
        step = float(np.max(np.abs(delta)))
        x, f = cand, f_new
        if step < tol or t < 1e-12:
            break
    grad = float(np.max(np.abs(gradient(x, pc, ridge))))
    fit = DavidsonFit(x[:m].copy(), float(x[m]), rankable, ridge, it, grad, step < tol)
    return _split(fit, bothbad, ties)


def _split(fit: DavidsonFit, bothbad: float | None, ties: float) -> DavidsonFit:
    if bothbad is None:
        return fit
    if not (0 <= bothbad <= ties):
        raise ValueError("bothbad must be between 0 and the number of ties")
    share = bothbad / ties if ties > 0 else 0.0
    nu = fit.nu
    return DavidsonFit(
        fit.theta,
        fit.log_nu,
        fit.rankable,
        fit.ridge,
        fit.iterations,
        fit.grad_norm,
        fit.converged,
        nu * (1.0 - share) if share < 1 else 0.0,
        nu * share if share > 0 else 0.0,
    )


def sandwich_cov(pc: PairCounts, fit: DavidsonFit, *, meat_counts: PairCounts | None = None) -> FloatArray:
    """Robust covariance of ``(theta, log nu)``, size (m + 1)^2 (needs 0 < ties < votes).

    ``meat_counts``: for a fit of weighted votes (``pc`` = the sum of the weights per cell), the sum of
    the squared weights per cell (same pairs), as in :func:`leaderboard.sandwich.weighted_sandwich_cov`."""
    m = pc.n_models
    if not math.isfinite(fit.log_nu):
        raise ValueError("the tie parameter is at its boundary (no ties, or only ties): no covariance")
    x = np.concatenate([fit.theta, [fit.log_nu]])
    pi, pj, pt = _probs(x, pc)
    base = 0.5 * (pi - pj)
    # per-vote score components for the three outcomes: d/d(theta_i - theta_j) and d/d log nu
    sd = (base - 0.5, base + 0.5, base)
    sk = (pt, pt, pt - 1.0)
    mc = pc if meat_counts is None else meat_counts
    if not (np.array_equal(mc.i, pc.i) and np.array_equal(mc.j, pc.j)):
        raise ValueError("meat counts must have the same pairs as the fitted counts")
    cells = (mc.i_wins, mc.j_wins, mc.ties)
    meat = np.zeros((m + 1, m + 1))
    w_dd = sum(c * s * s for c, s in zip(cells, sd, strict=True))
    w_dk = sum(c * s * k for c, s, k in zip(cells, sd, sk, strict=True))
    meat[:m, :m] = laplacian(m, pc.i, pc.j, np.asarray(w_dd))
    meat[:m, m] = meat[m, :m] = np.bincount(pc.i, w_dk, m) - np.bincount(pc.j, w_dk, m)
    meat[m, m] = float(sum(float(c @ (k * k)) for c, k in zip(cells, sk, strict=True)))
    h_inv = scipy.linalg.pinvh(_regularised(hessian(x, pc, fit.ridge), fit.ridge))
    return np.asarray(h_inv @ meat @ h_inv)


def tie_parameter_interval(pc: PairCounts, fit: DavidsonFit, *, z: float = Z95) -> tuple[float, float]:
    """Interval for ``nu``: ``exp(log nu -/+ z sd)`` from the sandwich covariance."""
    sd = math.sqrt(max(float(sandwich_cov(pc, fit)[-1, -1]), 0.0))
    return math.exp(fit.log_nu - z * sd), math.exp(fit.log_nu + z * sd)


def bootstrap_davidson(
    pc: PairCounts, fit: DavidsonFit, rng: np.random.Generator, *, rounds: int = 1000
) -> tuple[FloatArray, FloatArray]:
    """Battle bootstrap of the Davidson fit: ``rounds`` exact multinomial resamples of the cells, each
    refitted by Newton from the full-data optimum (to 1e-8). Returns (thetas (rounds, m), log_nu
    (rounds,)); theta is NaN where a model drew no battle in a round."""
    m, p = pc.n_models, len(pc.i)
    cells = np.concatenate([pc.i_wins, pc.j_wins, pc.ties])
    whole = np.round(cells)
    if not np.allclose(cells, whole):
        raise ValueError("bootstrap needs whole battle counts (got fractional counts)")
    draws = multinomial_rounds(whole.astype(np.int64), rng, rounds).astype(np.float64)
    thetas = np.empty((rounds, m))
    log_nu = np.empty(rounds)
    start = None if not math.isfinite(fit.log_nu) else fit.log_nu
    with threadpool_limits(1, user_api="blas"):
        for r in range(rounds):
            one = pc.with_counts(draws[r, :p], draws[r, p : 2 * p], draws[r, 2 * p :])
            f = fit_davidson(
                one, ridge=fit.ridge if fit.ridge > 0 else None, tol=1e-8, theta0=fit.theta, log_nu0=start
            )
            played = one.votes_per_model() > 0
            thetas[r] = np.where(played, f.theta, np.nan)
            log_nu[r] = f.log_nu
    return thetas, log_nu
