"""Pair samplers (uniform, weighted, active rules) and the inverse-propensity weights that keep the
ratings unbiased."""

from __future__ import annotations

import numpy as np
import pytest

from leaderboard.active_sampling import (
    SamplingData,
    _bt_gain,
    _neyman_gain,
    _paper_gain,
    active_probabilities,
    uniform_probabilities,
    weighted_probabilities,
    with_floor,
)
from leaderboard.bt import Identification, fit_bt, hessian, laplacian
from leaderboard.data import PairCounts
from leaderboard.sandwich import sandwich_cov, weighted_sandwich_cov
from tests.leaderboard.test_elo_bt import simulate


def _data(m=5, n=600, seed=0, weights=None):
    a, b, o, _ = simulate(m, n, seed=seed)
    w = np.ones(n) if weights is None else weights
    return SamplingData.from_votes(a, b, o, w, m)


def test_uniform_and_weighted_probabilities():
    u = uniform_probabilities(4)
    assert len(u.prob) == 6 and np.allclose(u.prob, 1 / 6)
    assert u.i.tolist() == [0, 0, 0, 1, 1, 2] and u.j.tolist() == [1, 2, 3, 2, 3, 3]
    e = uniform_probabilities(5, eligible=[True, False, True, True, False])
    assert list(zip(e.i.tolist(), e.j.tolist(), strict=True)) == [(0, 2), (0, 3), (2, 3)]
    w = weighted_probabilities([2.0, 1.0, 1.0])
    np.testing.assert_allclose(w.prob, np.array([2, 2, 1]) / 5)  # P(i, j) ∝ w_i w_j
    with pytest.raises(ValueError, match="at least two"):
        uniform_probabilities(3, eligible=[True, False, False])
    with pytest.raises(ValueError, match="finite and >= 0"):
        weighted_probabilities([1.0, -1.0])
    with pytest.raises(ValueError, match="probability 0"):
        weighted_probabilities([1.0, 0.0, 0.0])


@pytest.mark.parametrize("rule", ["bt", "neyman", "paper"])
def test_active_probabilities_respect_the_floor_and_the_kill_switch(rule):
    data = _data()
    p = active_probabilities(data, rule=rule, floor=0.2)
    k = len(p.prob)
    assert p.prob.sum() == pytest.approx(1.0)
    assert np.all(p.prob >= 0.2 / k - 1e-15)
    off = active_probabilities(data, rule=rule, floor=1.0)
    np.testing.assert_allclose(off.prob, 1 / k)
    with pytest.raises(ValueError, match="unknown active rule"):
        active_probabilities(data, rule="greedy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="floor"):
        with_floor(p, 1.5)


def test_draws_record_weights_with_mean_one():
    p = with_floor(weighted_probabilities([5.0, 1.0, 1.0, 0.5]), 0.1)
    a, b, w = p.draw(np.random.default_rng(0), 200_000)
    assert np.all(a != b)
    k = len(p.prob)
    # w = 1 / (K P) exactly, so E[w] = sum_a P_a / (K P_a) = 1
    key = np.minimum(a, b) * 4 + np.maximum(a, b)
    expected = {int(i) * 4 + int(j): 1 / (k * q) for i, j, q in zip(p.i, p.j, p.prob, strict=True)}
    assert all(abs(x - expected[int(c)]) < 1e-12 for x, c in zip(w[:100], key[:100], strict=True))
    assert abs(w.mean() - 1) < 4 * w.std() / np.sqrt(len(w))
    # and sides come in random order
    assert 0.49 < np.mean(a < b) < 0.51


def test_paper_rule_matches_equation_9_computed_vote_by_vote():
    rng = np.random.default_rng(3)
    m, n = 4, 400
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    o = rng.choice([0, 1, 2], n, p=[0.45, 0.4, 0.15])
    w = rng.uniform(0.5, 2.0, n)
    data = SamplingData.from_votes(a, b, o, w, m)
    probs = uniform_probabilities(m)
    gain = _paper_gain(data, probs.i, probs.j)
    # eq. 5/9 by hand: X_t(pair) = y_t w_t for the vote's pair (y from the pair's first model), plus one
    # pseudo-vote per pair (y = 1/2, w = 1); Sigma_aa = mean_t X_t(a)^2 - (mean_t X_t(a))^2 over T votes
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    y = np.where(o == 2, 0.5, np.where((o == 0) == (a == lo), 1.0, 0.0))
    t_total = n + len(probs.i)
    for k, (i, j) in enumerate(zip(probs.i, probs.j, strict=True)):
        sel = (lo == i) & (hi == j)
        x = np.concatenate([y[sel] * w[sel], [0.5]])
        sigma = (x**2).sum() / t_total - (x.sum() / t_total) ** 2
        n_a = sel.sum() + 1
        assert gain[k] == pytest.approx(np.sqrt(sigma / n_a) - np.sqrt(sigma / (n_a + 1)), rel=1e-12)


def test_bt_rule_is_the_drop_in_summed_interval_widths_from_one_more_vote():
    data = _data(m=5, n=300, seed=4)
    probs = uniform_probabilities(5)
    gain = _bt_gain(data, probs.i, probs.j)
    theta = fit_bt(data.weight_sum).theta
    info = hessian(theta, data.counts) + 0.25 * np.eye(5)
    c = np.eye(5) - 0.2

    def summed_sd(h):
        return np.sqrt(np.diag(c @ np.linalg.inv(h) @ c.T)).sum()

    for k, (i, j) in enumerate(zip(probs.i, probs.j, strict=True)):
        p = 1 / (1 + np.exp(theta[j] - theta[i]))
        u = np.zeros(5)
        u[i], u[j] = 1, -1
        brute = summed_sd(info) - summed_sd(info + p * (1 - p) * np.outer(u, u))
        assert gain[k] == pytest.approx(brute, rel=1e-8)


def test_neyman_rule_minimises_the_weighted_fits_summed_sd():
    data = _data(m=6, n=2000, seed=5)
    probs = uniform_probabilities(6)
    best = _neyman_gain(data, probs.i, probs.j)
    theta = fit_bt(data.weight_sum).theta
    p = 1 / (1 + np.exp(theta[probs.j] - theta[probs.i]))
    h = p * (1 - p)
    k = len(h)
    hu_inv = np.linalg.inv(laplacian(6, probs.i, probs.j, h / k) + 1 / 6)
    c = np.eye(6) - 1 / 6
    g2 = ((c @ (hu_inv[:, probs.i] - hu_inv[:, probs.j])).T * np.sqrt(h)[:, None]) ** 2

    def objective(q):
        return np.sqrt((g2 / q[:, None]).sum(axis=0)).sum()

    rng = np.random.default_rng(0)
    assert objective(best) <= objective(np.full(k, 1 / k)) + 1e-12
    for _ in range(50):
        q = best * np.exp(rng.normal(0, 0.3, k))
        assert objective(best) <= objective(q / q.sum()) + 1e-9


def test_weighted_sandwich_with_unit_weights_is_the_sandwich():
    data = _data(m=5, n=800, seed=6)
    fit = fit_bt(data.weight_sum)
    np.testing.assert_allclose(
        weighted_sandwich_cov(data.weight_sum, data.weight_sq, fit),
        sandwich_cov(data.counts, fit),
        atol=1e-15,
    )
    with pytest.raises(ValueError, match="positive and finite"):
        SamplingData.from_votes([0], [1], [0], [0.0], 2)


def _misspecified_arena(m=5, seed=7):
    """True win probabilities sigma(theta_i - theta_j + gamma_ij) with antisymmetric gamma: no BT model
    fits them, so the BT ratings depend on which pairs are asked: the target is the uniform design's."""
    theta = np.linspace(0.8, -0.8, m)
    iu = np.triu_indices(m, 1)
    gamma = np.zeros((m, m))
    g = np.random.default_rng(seed).normal(0, 0.8, len(iu[0]))
    gamma[iu], gamma[(iu[1], iu[0])] = g, -g
    win = 1 / (1 + np.exp(-(theta[:, None] - theta[None, :] + gamma)))
    i, j = iu
    expected = PairCounts(m, i, j, 1000 * win[i, j], 1000 * (1 - win[i, j]), np.zeros(len(i)))
    target = Identification.make(np.ones(m, bool)).ratings(fit_bt(expected).theta)
    return win, target


def _run_arena(win, sampler, seed, batches=10, size=400):
    m = len(win)
    rng = np.random.default_rng(seed)
    parts = []
    data = None
    probs = uniform_probabilities(m)
    for _ in range(batches):
        if data is not None:
            probs = sampler(data)
        a, b, w = probs.draw(rng, size)
        parts.append((a, b, np.where(rng.random(size) < win[a, b], 0, 1), w))
        data = SamplingData.from_votes(*(np.concatenate(x) for x in zip(*parts, strict=True)), m)
    ident = Identification.make(np.ones(m, bool))
    return ident.ratings(fit_bt(data.weight_sum).theta), ident.ratings(fit_bt(data.counts).theta)


def _z(errors):
    return errors.mean(axis=0) / (errors.std(axis=0, ddof=1) / np.sqrt(len(errors)))


@pytest.mark.parametrize("rule", ["bt", "neyman", "paper"])
def test_inverse_propensity_weights_keep_active_sampling_unbiased(rule):
    win, target = _misspecified_arena()
    runs = [
        _run_arena(win, lambda d: active_probabilities(d, rule=rule, floor=0.1), 100 + s) for s in range(100)
    ]
    ipw = np.array([r[0] for r in runs]) - target
    # mean error over 100 arenas within 4 Monte Carlo standard errors for every model (measured |z| < 2)
    assert np.all(np.abs(_z(ipw)) < 4), _z(ipw)


def test_without_the_weights_a_non_uniform_sampler_biases_the_ratings():
    # the test above can fail: with a strongly non-uniform (fixed, operator-weighted) sampler the
    # unweighted fit is far off the uniform target, the weighted one is not
    win, target = _misspecified_arena()
    sampler = with_floor(weighted_probabilities([8.0, 4.0, 1.0, 1.0, 1.0]), 0.05)
    runs = [_run_arena(win, lambda d: sampler, 300 + s) for s in range(100)]
    ipw = np.array([r[0] for r in runs]) - target
    plain = np.array([r[1] for r in runs]) - target
    assert np.all(np.abs(_z(ipw)) < 4), _z(ipw)
    assert np.max(np.abs(_z(plain))) > 10, _z(plain)
    assert np.max(np.abs(plain.mean(axis=0))) > 10  # rating points
