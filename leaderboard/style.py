"""Style: the style-controlled Bradley-Terry fit (markdown counts of one answer: :mod:`leaderboard.markdown`).

Style control (as in Chatbot Arena): ``logit P(a beats b) = theta_a - theta_b + beta . x`` with one
covariate per style feature, ``x_f = (a_f - b_f) / (a_f + b_f + 1)`` for answer tokens, markdown headers,
list items and bold spans (conversation totals), standardised to mean 0 and standard deviation 1 over the
battles (a feature with no variation is dropped: its coefficient is 0). Ties count as half a win. Ratings:
``theta``; intervals: sandwich (default) or bootstrap (a Newton fit per round); see leaderboard.separation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike, NDArray
from scipy.sparse import csr_matrix
from scipy.special import expit

from leaderboard.bootstrap import identify_rounds, multinomial_rounds, percentile_intervals
from leaderboard.bt import RIDGE, Identification, laplacian, rankable_models
from leaderboard.data import SCORE_A, FloatArray, aggregate, validate_battles
from leaderboard.markdown import MarkdownCounts as MarkdownCounts  # re-exported
from leaderboard.markdown import count_style as count_style  # re-exported
from leaderboard.sandwich import Z95

STYLE_FEATURES = ("tokens", "headers", "lists", "bold")


def style_covariates(
    features_a: ArrayLike, features_b: ArrayLike, weights: ArrayLike | None = None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Standardised covariates (n, F) and the mean and std used (std 0 -> column dropped, i.e. zeros)."""
    fa = np.asarray(features_a, dtype=np.float64)
    fb = np.asarray(features_b, dtype=np.float64)
    x = (fa - fb) / (fa + fb + 1.0)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
    total = w.sum()
    if len(x) == 0 or total <= 0:
        return np.zeros_like(x), np.zeros(x.shape[1]), np.zeros(x.shape[1])
    mean = (w @ x) / total
    std = np.sqrt(np.maximum((w @ (x - mean) ** 2) / total, 0.0))
    ok = std > 1e-12
    z = np.zeros_like(x)
    z[:, ok] = (x[:, ok] - mean[ok]) / std[ok]
    return z, mean, std


@dataclass(frozen=True)
class StyleFit:
    theta: FloatArray
    beta: FloatArray
    rankable: NDArray[np.bool_]
    ridge: float
    iterations: int
    grad_norm: float
    converged: bool


class _Problem:
    """Per-battle rows; sums over rows via a sparse (m x n) incidence matrix, never a dense design matrix."""

    def __init__(
        self, a: NDArray[np.int64], b: NDArray[np.int64], y: FloatArray, x: FloatArray, c: FloatArray, m: int
    ):
        self.a, self.b, self.y, self.x, self.c, self.m = a, b, y, x, c, m
        n = len(a)
        rows = np.arange(n)
        self.et = csr_matrix(
            (np.repeat([1.0, -1.0], n), (np.concatenate([a, b]), np.tile(rows, 2))), shape=(m, n)
        )
        self.pair = np.minimum(a, b) * m + np.maximum(a, b)
        self.upair, self.pair_idx = np.unique(self.pair, return_inverse=True)
        self.pi, self.pj = self.upair // m, self.upair % m

    def eta(self, theta: FloatArray, beta: FloatArray) -> FloatArray:
        return theta[self.a] - theta[self.b] + self.x @ beta

    def nll_at(self, e: FloatArray, theta: FloatArray, ridge: float) -> float:
        # y log(1+e^-e) + (1-y) log(1+e^e) = log(1+e^e) - y e
        return float(self.c @ (np.logaddexp(0.0, e) - self.y * e)) + 0.5 * ridge * float(theta @ theta)

    def nll(self, theta: FloatArray, beta: FloatArray, ridge: float) -> float:
        return self.nll_at(self.eta(theta, beta), theta, ridge)

    def grad_at(self, s: FloatArray, theta: FloatArray, ridge: float) -> FloatArray:
        r = self.c * (s - self.y)
        return np.concatenate([self.et @ r + ridge * theta, self.x.T @ r])

    def grad(self, theta: FloatArray, beta: FloatArray, ridge: float) -> FloatArray:
        return self.grad_at(expit(self.eta(theta, beta)), theta, ridge)

    def matrix(self, v: FloatArray) -> FloatArray:
        """sum over rows of v * z z^T with z = (e_a - e_b, x)."""
        m, f = self.m, self.x.shape[1]
        # e_a - e_b flips sign with the pair orientation; v z z^T's theta block only needs |.|
        pw = np.asarray(np.bincount(self.pair_idx, v, len(self.upair)), dtype=np.float64)
        out = np.zeros((m + f, m + f))
        out[:m, :m] = laplacian(m, self.pi, self.pj, pw)
        vx = v[:, None] * self.x
        cross = np.asarray(self.et @ vx)
        out[:m, m:] = cross
        out[m:, :m] = cross.T
        out[m:, m:] = self.x.T @ vx
        return out

    def hess_at(self, s: FloatArray, ridge: float) -> FloatArray:
        h = self.matrix(self.c * s * (1 - s))
        m = self.m
        if ridge > 0:
            h[:m, :m] += ridge * np.eye(m)
        else:
            h[:m, :m] += 1.0 / m  # pins the free shift of theta (see bt.regularised_hessian)
        return h

    def hess(self, theta: FloatArray, beta: FloatArray, ridge: float) -> FloatArray:
        return self.hess_at(expit(self.eta(theta, beta)), ridge)


def _newton(
    prob: _Problem, ridge: float, theta: FloatArray, beta: FloatArray, tol: float
) -> tuple[FloatArray, FloatArray, int, bool]:
    """Newton with Armijo backtracking; one eta, one expit and one logaddexp pass per iteration."""
    m = prob.m
    e = prob.eta(theta, beta)
    f = prob.nll_at(e, theta, ridge)
    for it in range(1, 1001):
        s = expit(e)
        g = prob.grad_at(s, theta, ridge)
        h = prob.hess_at(s, ridge)
        try:
            delta = -scipy.linalg.cho_solve(scipy.linalg.cho_factor(h), g)
        except np.linalg.LinAlgError:
            delta = -np.linalg.lstsq(h, g, rcond=None)[0]
        if ridge == 0:
            delta[:m] -= delta[:m].mean()
        slope = float(g @ delta)
        t = 1.0
        while True:
            th, be = theta + t * delta[:m], beta + t * delta[m:]
            e_new = prob.eta(th, be)
            f_new = prob.nll_at(e_new, th, ridge)
            if f_new <= f + 1e-4 * t * slope + 1e-13 * abs(f) or t < 1e-12:
                break
            t *= 0.5
        theta, beta, f, e = th, be, f_new, e_new
        if float(np.max(np.abs(delta))) < tol or t < 1e-12:
            return theta, beta, it, t >= 1e-12
    return theta, beta, 1000, False


def fit_style(
    model_a: ArrayLike,
    model_b: ArrayLike,
    outcome: ArrayLike,
    n_models: int,
    covariates: FloatArray,
    counts: ArrayLike | None = None,
    *,
    tol: float = 1e-10,
    ridge: float | None = None,
    start: tuple[FloatArray, FloatArray] | None = None,
) -> StyleFit:
    a, b, o = validate_battles(model_a, model_b, outcome, n_models)
    c = np.ones(len(a)) if counts is None else np.asarray(counts, dtype=np.float64)
    f = covariates.shape[1]
    rankable, n_comp = rankable_models(aggregate(a, b, o, n_models, c))
    if ridge is None:
        ridge = 0.0 if n_comp <= 1 else RIDGE
    if n_models <= 1 or len(a) == 0:
        return StyleFit(np.zeros(n_models), np.zeros(f), np.ones(n_models, bool), ridge, 0, 0.0, True)
    prob = _Problem(a, b, SCORE_A[o], covariates, c, n_models)
    theta0, beta0 = start if start is not None else (np.zeros(n_models), np.zeros(f))
    theta, beta, it, ok = _newton(prob, ridge, theta0.copy(), beta0.copy(), tol)
    grad = float(np.max(np.abs(prob.grad(theta, beta, ridge))))
    return StyleFit(theta, beta, rankable, ridge, it, grad, ok)


def style_sandwich_cov(
    model_a: ArrayLike,
    model_b: ArrayLike,
    outcome: ArrayLike,
    n_models: int,
    covariates: FloatArray,
    fit: StyleFit,
    counts: ArrayLike | None = None,
) -> FloatArray:
    """Robust covariance of (theta, beta), size (m + F)^2."""
    a, b, o = validate_battles(model_a, model_b, outcome, n_models)
    c = np.ones(len(a)) if counts is None else np.asarray(counts, dtype=np.float64)
    prob = _Problem(a, b, SCORE_A[o], covariates, c, n_models)
    s = expit(prob.eta(fit.theta, fit.beta))
    meat = prob.matrix(c * (prob.y - s) ** 2)
    # pinv: collinear features (say headers always equal to lists) leave the Hessian singular
    h_inv = np.linalg.pinv(prob.hess(fit.theta, fit.beta, fit.ridge), hermitian=True)
    return np.asarray(h_inv @ meat @ h_inv)


@dataclass(frozen=True)
class StyleResult:
    coefficients: dict[str, float]
    coef_lower: dict[str, float]
    coef_upper: dict[str, float]
    ratings: FloatArray
    lower: FloatArray
    upper: FloatArray
    ci: str
    fit: StyleFit
    floored: bool = False  # intervals widened to the plain fit's (the votes separate the style model)


def style_control(
    model_a: ArrayLike,
    model_b: ArrayLike,
    outcome: ArrayLike,
    n_models: int,
    features_a: ArrayLike,
    features_b: ArrayLike,
    ident_of: Callable[[NDArray[np.bool_]], Identification],
    *,
    counts: ArrayLike | None = None,
    ci: str = "sandwich",
    rounds: int = 100,
    rng: np.random.Generator | None = None,
    feature_names: tuple[str, ...] = STYLE_FEATURES,
    theta0: FloatArray | None = None,
) -> StyleResult:
    """Fit, then intervals for the style-adjusted ratings and the coefficients."""
    if ci not in ("sandwich", "bootstrap"):
        raise ValueError(f"unknown interval method {ci!r}: use 'sandwich' or 'bootstrap'")
    a, b, o = validate_battles(model_a, model_b, outcome, n_models)
    c = np.ones(len(a)) if counts is None else np.asarray(counts, dtype=np.float64)
    x_all, _, std = style_covariates(features_a, features_b, c)
    # A feature with no variation (e.g. no answer ever has a header) would make the Hessian singular:
    # fit only the features that vary; the others get coefficient 0 and no interval.
    active = std > 1e-12
    x = np.ascontiguousarray(x_all[:, active])
    start = None if theta0 is None else (np.asarray(theta0, dtype=np.float64), np.zeros(x.shape[1]))
    fit = fit_style(a, b, o, n_models, x, c, start=start)  # warm start: the plain BT fit is close
    ident = ident_of(fit.rankable)
    ratings = ident.ratings(fit.theta)
    names = list(feature_names)
    if n_models <= 1 or len(a) == 0:  # nothing to estimate
        nan = {n: float("nan") for n in names}
        return StyleResult(
            {n: 0.0 for n in names}, nan, dict(nan), ratings, ratings.copy(), ratings.copy(), ci, fit
        )
    if ci == "sandwich":
        cov = style_sandwich_cov(a, b, o, n_models, x, fit, c)
        cmat = ident.matrix()
        sd = np.sqrt(
            np.maximum(np.diag(ident.scale_factor**2 * (cmat @ cov[:n_models, :n_models] @ cmat.T)), 0)
        )
        lower, upper = ratings - Z95 * sd, ratings + Z95 * sd
        bsd = np.sqrt(np.maximum(np.diag(cov)[n_models:], 0))
        blo_act, bhi_act = fit.beta - Z95 * bsd, fit.beta + Z95 * bsd
    elif ci == "bootstrap":
        if rng is None:
            raise ValueError("bootstrap intervals need a numpy.random.Generator")
        draws = (
            multinomial_rounds(np.round(c).astype(np.int64), rng, rounds)
            if rounds > 0
            else np.zeros((0, len(c)))
        )
        samples = np.full((rounds, n_models), np.nan)
        betas = np.full((rounds, x.shape[1]), np.nan)
        for r in range(rounds):
            cr = draws[r].astype(np.float64)
            keep = cr > 0
            one = fit_style(
                a[keep],
                b[keep],
                o[keep],
                n_models,
                x[keep],
                cr[keep],
                ridge=fit.ridge or None,
                start=(fit.theta, fit.beta),
                tol=1e-8,
            )
            played = (np.bincount(a[keep], cr[keep], n_models) + np.bincount(b[keep], cr[keep], n_models)) > 0
            samples[r] = np.where(played, one.theta, np.nan)
            betas[r] = one.beta
        lower, upper = percentile_intervals(identify_rounds(ident, samples))
        blo_act, bhi_act = percentile_intervals(betas)
    else:
        raise ValueError(f"unknown interval method {ci!r}: use 'sandwich' or 'bootstrap'")
    beta, blo, bhi = np.zeros(len(names)), np.full(len(names), np.nan), np.full(len(names), np.nan)
    beta[active], blo[active], bhi[active] = fit.beta, blo_act, bhi_act
    return StyleResult(
        {n: float(v) for n, v in zip(names, beta, strict=True)},
        {n: float(v) for n, v in zip(names, blo, strict=True)},
        {n: float(v) for n, v in zip(names, bhi, strict=True)},
        ratings,
        lower,
        upper,
        ci,
        fit,
    )
