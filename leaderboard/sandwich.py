"""Closed-form (sandwich, i.e. robust) covariance of Bradley-Terry ratings.

``cov(theta) = H^+ M H^+`` with ``H`` the Hessian of the negative log-likelihood and ``M`` the sum over
battles of the outer product of the per-battle score ``(y - p) (e_i - e_j)``, where ``y`` is 1, 0 or 1/2.
Both are weighted graph Laplacians computable from the aggregated cells, so this costs one m x m solve.
Ratings are ``value + k C theta`` (see :class:`leaderboard.bt.Identification`), so ``cov(r) = k^2 C cov C^T``.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from scipy.special import expit

from leaderboard.bt import BTFit, Identification, hessian, laplacian, regularised_hessian
from leaderboard.data import FloatArray, PairCounts

Z95 = 1.959963984540054


def sandwich_cov(pc: PairCounts, fit: BTFit) -> FloatArray:
    """Robust covariance of theta (m x m)."""
    m = pc.n_models
    if m == 0 or len(pc.i) == 0:
        return np.zeros((m, m))
    p = expit(fit.theta[pc.i] - fit.theta[pc.j])
    meat_w = pc.i_wins * (1 - p) ** 2 + pc.j_wins * p**2 + pc.ties * (0.5 - p) ** 2
    meat = laplacian(m, pc.i, pc.j, meat_w)
    h = regularised_hessian(hessian(fit.theta, pc, fit.ridge), fit.ridge)
    h_inv = scipy.linalg.pinvh(h) if not np.all(np.isfinite(h)) else np.linalg.inv(h)
    return np.asarray(h_inv @ meat @ h_inv)


def rating_cov(cov_theta: FloatArray, ident: Identification) -> FloatArray:
    c = ident.matrix()
    return np.asarray(ident.scale_factor**2 * (c @ cov_theta @ c.T))


def sandwich_intervals(
    pc: PairCounts, fit: BTFit, ident: Identification, *, z: float = Z95
) -> tuple[FloatArray, FloatArray]:
    """``rating -/+ z * sd`` (95% by default)."""
    ratings = ident.ratings(fit.theta)
    sd = np.sqrt(np.maximum(np.diag(rating_cov(sandwich_cov(pc, fit), ident)), 0.0))
    return ratings - z * sd, ratings + z * sd
