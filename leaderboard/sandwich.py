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


def weighted_sandwich_cov(pc_w: PairCounts, pc_w2: PairCounts, fit: BTFit) -> FloatArray:
    """Robust covariance of theta fitted on weighted votes (e.g. inverse-propensity weights):
    ``H_w^+ M H_w^+`` with ``H_w`` the Hessian of the weighted objective (cells ``pc_w``: the sum of the
    weights per cell) and ``M = sum_votes w^2 (y - p)^2 (e_i - e_j)(e_i - e_j)^T`` (``pc_w2``: the sum of
    the squared weights per cell, same pairs). With all weights 1 this is :func:`sandwich_cov`."""
    m = pc_w.n_models
    if m == 0 or len(pc_w.i) == 0:
        return np.zeros((m, m))
    if not (np.array_equal(pc_w.i, pc_w2.i) and np.array_equal(pc_w.j, pc_w2.j)):
        raise ValueError("weighted and squared-weight counts must have the same pairs")
    p = expit(fit.theta[pc_w.i] - fit.theta[pc_w.j])
    meat_w = pc_w2.i_wins * (1 - p) ** 2 + pc_w2.j_wins * p**2 + pc_w2.ties * (0.5 - p) ** 2
    meat = laplacian(m, pc_w.i, pc_w.j, meat_w)
    h = regularised_hessian(hessian(fit.theta, pc_w, fit.ridge), fit.ridge)
    h_inv = scipy.linalg.pinvh(h) if not np.all(np.isfinite(h)) else np.linalg.inv(h)
    return np.asarray(h_inv @ meat @ h_inv)
