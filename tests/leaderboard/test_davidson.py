"""Davidson ties model: closed forms, gradient checks, an independent optimiser, reduction to BT."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize

from leaderboard.bt import fit_bt
from leaderboard.data import aggregate
from leaderboard.davidson import (
    bootstrap_davidson,
    fit_davidson,
    gradient,
    hessian,
    neg_log_likelihood,
    sandwich_cov,
    tie_parameter_interval,
)
from tests.leaderboard.test_elo_bt import simulate


def davidson_battles(theta, nu, n, rng, bothbad_share=0.0):
    """Battles drawn from the Davidson model itself (outcome 3 = bothbad, a share of the ties)."""
    m = len(theta)
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    half = 0.5 * (theta[a] - theta[b])
    z = np.exp(half) + np.exp(-half) + nu
    u = rng.random(n) * z
    o = np.where(u < np.exp(half), 0, np.where(u < np.exp(half) + np.exp(-half), 1, 2))
    o = np.where((o == 2) & (rng.random(n) < bothbad_share), 3, o)
    return a, b, o


@pytest.mark.parametrize(("wi", "wj", "t"), [(30, 10, 12), (5, 9, 40), (7, 7, 1)])
def test_two_models_closed_form(wi, wj, t):
    # two models: the model is saturated, so P = observed shares: d = log(wi/wj), nu = t / sqrt(wi wj)
    a = [0] * wi + [1] * wj + [0] * t
    b = [1] * wi + [0] * wj + [1] * t
    o = [0] * (wi + wj) + [2] * t
    fit = fit_davidson(aggregate(a, b, o, 2))
    assert fit.converged
    assert fit.theta[0] - fit.theta[1] == pytest.approx(math.log(wi / wj), abs=1e-9)
    assert fit.nu == pytest.approx(t / math.sqrt(wi * wj), rel=1e-9)
    assert fit.tie_probability_equal == pytest.approx(fit.nu / (2 + fit.nu))


def test_gradient_and_hessian_match_finite_differences():
    a, b, o, _ = simulate(6, 500, seed=2, tie_rate=0.3)
    pc = aggregate(a, b, o, 6)
    x = np.concatenate([np.random.default_rng(0).normal(0, 0.5, 6), [-0.4]])
    for ridge in (0.0, 0.2):
        g = gradient(x, pc, ridge)
        h = hessian(x, pc, ridge)
        eps = 1e-6
        for k in range(7):
            e = np.zeros(7)
            e[k] = eps
            num = (neg_log_likelihood(x + e, pc, ridge) - neg_log_likelihood(x - e, pc, ridge)) / (2 * eps)
            assert g[k] == pytest.approx(num, rel=1e-6, abs=1e-6)
            num_h = (gradient(x + e, pc, ridge) - gradient(x - e, pc, ridge)) / (2 * eps)
            np.testing.assert_allclose(h[:, k], num_h, rtol=1e-5, atol=1e-6)


def _per_battle_nll(z, a, b, o):
    """Independent formulation on battle rows: model 0 fixed at 0, z = (theta_1.., log nu)."""
    theta = np.concatenate([[0.0], z[:-1]])
    half = 0.5 * (theta[a] - theta[b])
    log_z = np.logaddexp(np.logaddexp(half, -half), z[-1])
    ll = np.where(o == 0, half, np.where(o == 1, -half, z[-1])) - log_z
    return -float(ll.sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_scipy_minimize_on_the_battle_rows(seed):
    m = 7
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 0.8, m)
    a, b, o = davidson_battles(theta, 0.6, 1200, rng)
    res = scipy.optimize.minimize(
        _per_battle_nll, np.zeros(m), args=(a, b, o), method="BFGS", options={"gtol": 1e-9, "maxiter": 10_000}
    )
    ref = np.concatenate([[0.0], res.x[:-1]])
    fit = fit_davidson(aggregate(a, b, o, m))
    assert fit.converged and fit.grad_norm < 1e-8
    np.testing.assert_allclose(fit.theta - fit.theta.mean(), ref - ref.mean(), atol=1e-5)
    assert fit.log_nu == pytest.approx(res.x[-1], abs=1e-5)
    assert (
        neg_log_likelihood(np.concatenate([fit.theta, [fit.log_nu]]), aggregate(a, b, o, m)) <= res.fun + 1e-7
    )


def test_reduces_to_bradley_terry_without_ties():
    a, b, o, _ = simulate(6, 800, seed=5, tie_rate=0.0)
    pc = aggregate(a, b, o, 6)
    fit = fit_davidson(pc)
    assert fit.nu == 0.0 and fit.log_nu == -math.inf and fit.tie_probability_equal == 0.0
    np.testing.assert_array_equal(fit.theta, fit_bt(pc).theta)
    # and the limit: a handful of ties among many decisive votes gives a tiny nu and nearly BT ratings
    o2 = o.copy()
    o2[:3] = 2
    near = fit_davidson(aggregate(a, b, o2, 6))
    assert 0 < near.nu < 0.01
    np.testing.assert_allclose(near.theta, fit_bt(aggregate(a[3:], b[3:], o[3:], 6)).theta, atol=0.02)


def test_recovers_the_generating_parameters_and_spreads_wider_than_ties_as_half():
    rng = np.random.default_rng(3)
    theta = np.array([1.0, 0.5, 0.0, -0.5, -1.0])
    a, b, o = davidson_battles(theta, 0.8, 60_000, rng)
    pc = aggregate(a, b, o, 5)
    fit = fit_davidson(pc)
    np.testing.assert_allclose(fit.theta, theta - theta.mean(), atol=0.03)
    lo, hi = tie_parameter_interval(pc, fit)
    assert lo < 0.8 < hi and hi - lo < 0.05
    # ties-as-half reads a tie as half a win: the gaps shrink towards 0 when ties are frequent
    assert np.ptp(fit_bt(pc).theta) < 0.9 * np.ptp(fit.theta)


def test_sandwich_matches_the_sampling_spread():
    theta = np.array([0.4, 0.0, -0.4, 0.2])
    sds = []
    fits = []
    for s in range(150):
        a, b, o = davidson_battles(theta, 0.5, 1500, np.random.default_rng(200 + s))
        pc = aggregate(a, b, o, 4)
        fit = fit_davidson(pc)
        fits.append(np.concatenate([fit.theta - fit.theta.mean(), [fit.log_nu]]))
        sds.append(np.sqrt(np.diag(sandwich_cov(pc, fit))))
    spread = np.std(fits, axis=0)
    # 150 replicates: the sample s.d. itself is uncertain by ~6%
    np.testing.assert_allclose(np.mean(sds, axis=0)[-1], spread[-1], rtol=0.2)
    # theta: centred covariance, compare the spread of the centred estimates
    np.testing.assert_allclose(np.mean(sds, axis=0)[:4], spread[:4], rtol=0.2)


def test_bothbad_as_its_own_outcome_splits_nu_and_leaves_ratings_unchanged():
    rng = np.random.default_rng(8)
    theta = np.array([0.7, 0.1, -0.2, -0.6])
    a, b, o = davidson_battles(theta, 0.9, 5000, rng, bothbad_share=0.4)
    pc = aggregate(a, b, o, 4)
    n_bb = float((o == 3).sum())
    fit = fit_davidson(pc, bothbad=n_bb)
    plain = fit_davidson(pc)
    np.testing.assert_array_equal(fit.theta, plain.theta)
    assert fit.nu_tie + fit.nu_bothbad == pytest.approx(plain.nu)
    assert fit.nu_bothbad / plain.nu == pytest.approx(n_bb / pc.ties.sum())

    # the four-outcome likelihood optimised directly gives the same numbers
    def nll4(z):
        th = np.concatenate([[0.0], z[:3]])
        half = 0.5 * (th[a] - th[b])
        log_z = np.logaddexp(np.logaddexp(half, -half), np.logaddexp(z[3], z[4]))
        ll = np.select([o == 0, o == 1, o == 2], [half, -half, np.full(len(o), z[3])], z[4]) - log_z
        return -float(ll.sum())

    res = scipy.optimize.minimize(nll4, np.zeros(5), method="BFGS", options={"gtol": 1e-9})
    ref = np.concatenate([[0.0], res.x[:3]])
    np.testing.assert_allclose(fit.theta - fit.theta.mean(), ref - ref.mean(), atol=1e-5)
    assert fit.nu_tie == pytest.approx(math.exp(res.x[3]), rel=1e-4)
    assert fit.nu_bothbad == pytest.approx(math.exp(res.x[4]), rel=1e-4)


def test_degenerate_inputs():
    assert fit_davidson(aggregate([], [], [], 3)).theta.tolist() == [0.0, 0.0, 0.0]
    only_ties = fit_davidson(aggregate([0, 1], [1, 2], [2, 3], 3))
    assert only_ties.nu == math.inf and np.all(only_ties.theta == 0)
    # an undefeated model: finite thanks to the ridge, flagged unrankable
    a = [0, 0, 1, 2, 1, 2]
    b = [1, 2, 2, 1, 2, 1]
    o = [0, 0, 0, 0, 2, 1]
    fit = fit_davidson(aggregate(a, b, o, 3))
    assert fit.ridge > 0 and fit.converged and np.all(np.isfinite(fit.theta))
    assert fit.rankable.tolist() == [False, True, True]
    with pytest.raises(ValueError, match="bothbad"):
        fit_davidson(aggregate(a, b, o, 3), bothbad=5)
    with pytest.raises(ValueError, match="boundary"):
        sandwich_cov(aggregate([0, 1], [1, 0], [0, 0], 2), fit_davidson(aggregate([0, 1], [1, 0], [0, 0], 2)))


def test_bootstrap_agrees_with_the_sandwich_on_large_data():
    rng = np.random.default_rng(21)
    theta = np.array([0.5, 0.1, -0.1, -0.5])
    a, b, o = davidson_battles(theta, 0.7, 20_000, rng)
    pc = aggregate(a, b, o, 4)
    fit = fit_davidson(pc)
    thetas, log_nu = bootstrap_davidson(pc, fit, np.random.default_rng(1), rounds=300)
    centred = thetas - thetas.mean(axis=1, keepdims=True)
    sd = np.sqrt(np.diag(sandwich_cov(pc, fit)))
    # 300 rounds: a bootstrap s.d. is uncertain by ~4%
    np.testing.assert_allclose(centred.std(axis=0), sd[:4], rtol=0.15)
    assert np.std(log_nu) == pytest.approx(sd[4], rel=0.15)
    assert np.isfinite(thetas).all()
