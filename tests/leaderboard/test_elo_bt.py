"""Online Elo and the Bradley-Terry MLE against closed forms and an independent optimiser."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize

from leaderboard.bt import Identification, fit_bt, gradient, hessian, neg_log_likelihood, rankable_models
from leaderboard.data import aggregate
from leaderboard.elo import online_elo

K400 = 400 / math.log(10)


def simulate(m: int, n: int, seed: int, tie_rate: float = 0.15, spread: float = 1.0):
    rng = np.random.default_rng(seed)
    true = rng.normal(0, spread, m)
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    p = 1 / (1 + np.exp(true[b] - true[a]))
    u = rng.random(n)
    o = np.where(u < tie_rate, 2 + (u < tie_rate / 3), np.where(rng.random(n) < p, 0, 1))
    return a, b, o, true


# ---- online Elo -----------------------------------------------------------------------------------------


def test_one_battle_moves_elo_by_half_k_from_equal_ratings():
    r = online_elo([0], [1], [0], 2, k=4)
    assert r.tolist() == [1002.0, 998.0]
    r = online_elo([0], [1], [1], 2, k=32)
    assert r.tolist() == [984.0, 1016.0]


def test_ties_of_both_kinds_leave_equal_ratings_unchanged():
    assert online_elo([0, 1], [1, 0], [2, 3], 2).tolist() == [1000.0, 1000.0]


def test_online_elo_equals_textbook_sequential_update_exactly():
    a, b, o, _ = simulate(7, 3000, seed=3)
    names = [f"m{i}" for i in range(7)]
    rating = {n: 1000.0 for n in names}  # written the way FastChat's compute_elo reads
    for ia, ib, code in zip(a, b, o, strict=True):
        ma, mb = names[ia], names[ib]
        ra, rb = rating[ma], rating[mb]
        ea = 1 / (1 + 10 ** ((rb - ra) / 400))
        eb = 1 / (1 + 10 ** ((ra - rb) / 400))
        sa = {0: 1.0, 1: 0.0, 2: 0.5, 3: 0.5}[int(code)]
        rating[ma] += 4 * (sa - ea)
        rating[mb] += 4 * (1 - sa - eb)
    got = online_elo(a, b, o, 7)
    assert got.tolist() == [rating[n] for n in names]  # bit for bit


def test_online_elo_rejects_bad_input_with_specific_messages():
    with pytest.raises(ValueError, match="out of range"):
        online_elo([0], [5], [0], 2)
    with pytest.raises(ValueError, match="outcome codes"):
        online_elo([0], [1], [7], 2)
    with pytest.raises(ValueError, match="two different models"):
        online_elo([1], [1], [0], 2)


# ---- Bradley-Terry closed forms --------------------------------------------------------------------------


@pytest.mark.parametrize(("wins", "losses", "ties"), [(3, 1, 0), (10, 7, 0), (1, 4, 0), (3, 1, 2), (0, 0, 5)])
def test_two_models_gap_is_scale_log10_of_wins_over_losses_with_ties_half(wins, losses, ties):
    a = [0] * wins + [1] * losses + [0] * ties
    b = [1] * wins + [0] * losses + [1] * ties
    o = [0] * (wins + losses) + [2] * ties
    fit = fit_bt(aggregate(a, b, o, 2))
    r = Identification.make(fit.rankable).ratings(fit.theta)
    w, lo = wins + ties / 2, losses + ties / 2
    assert r[0] - r[1] == pytest.approx(400 * math.log10(w / lo), abs=1e-9)
    assert r.mean() == pytest.approx(1000.0, abs=1e-9)
    assert fit.ridge == 0 and fit.converged


def test_order_of_sides_does_not_matter():
    a, b, o, _ = simulate(5, 400, seed=1)
    swapped_o = np.where(o == 0, 1, np.where(o == 1, 0, o))
    f1 = fit_bt(aggregate(a, b, o, 5))
    f2 = fit_bt(aggregate(b, a, swapped_o, 5))
    np.testing.assert_allclose(f1.theta, f2.theta, atol=1e-12)


def test_gradient_and_hessian_match_finite_differences():
    a, b, o, _ = simulate(6, 300, seed=2)
    pc = aggregate(a, b, o, 6)
    rng = np.random.default_rng(0)
    theta = rng.normal(0, 0.5, 6)
    for ridge in (0.0, 0.3):
        g = gradient(theta, pc, ridge)
        h = hessian(theta, pc, ridge)
        eps = 1e-6
        for k in range(6):
            e = np.zeros(6)
            e[k] = eps
            num = (neg_log_likelihood(theta + e, pc, ridge) - neg_log_likelihood(theta - e, pc, ridge)) / (
                2 * eps
            )
            assert g[k] == pytest.approx(num, rel=1e-6, abs=1e-6)
            num_h = (gradient(theta + e, pc, ridge) - gradient(theta - e, pc, ridge)) / (2 * eps)
            np.testing.assert_allclose(h[:, k], num_h, rtol=1e-5, atol=1e-6)


def _per_battle_nll(beta_free, a, b, y, m):
    """Independent formulation: logistic regression on per-battle rows, model 0 fixed at 0."""
    beta = np.concatenate([[0.0], beta_free])
    d = beta[a] - beta[b]
    return float(np.sum(y * np.logaddexp(0, -d) + (1 - y) * np.logaddexp(0, d)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_independent_optimiser_to_1e6_rating_points(seed):
    m = 8
    a, b, o, _ = simulate(m, 600, seed=seed)
    y = np.array([1.0, 0.0, 0.5, 0.5])[o]

    def jac(bf, *_):
        beta = np.concatenate([[0.0], bf])
        p = 1 / (1 + np.exp(-(beta[a] - beta[b])))
        r = p - y
        g = np.bincount(a, r, m) - np.bincount(b, r, m)
        return g[1:]

    def hess(bf, *_):
        beta = np.concatenate([[0.0], bf])
        p = 1 / (1 + np.exp(-(beta[a] - beta[b])))
        x = np.zeros((len(a), m))
        x[np.arange(len(a)), a] = 1
        x[np.arange(len(a)), b] = -1
        return (x[:, 1:].T * (p * (1 - p))) @ x[:, 1:]

    res = scipy.optimize.minimize(
        _per_battle_nll,
        np.zeros(m - 1),
        args=(a, b, y, m),
        jac=jac,
        hess=hess,
        method="trust-exact",
        options={"gtol": 1e-12},
    )
    ref = np.concatenate([[0.0], res.x])
    ref_ratings = 1000 + K400 * (ref - ref.mean())
    fit = fit_bt(aggregate(a, b, o, m))
    ours = Identification.make(fit.rankable).ratings(fit.theta)
    np.testing.assert_allclose(ours, ref_ratings, atol=1e-6, rtol=0)
    assert fit.grad_norm < 1e-8


def test_anchor_identification_sets_the_anchor_and_keeps_gaps():
    a, b, o, _ = simulate(5, 500, seed=4)
    fit = fit_bt(aggregate(a, b, o, 5))
    mean_r = Identification.make(fit.rankable).ratings(fit.theta)
    anch = Identification.make(fit.rankable, anchor=2, value=1114.0).ratings(fit.theta)
    assert anch[2] == 1114.0
    np.testing.assert_allclose(anch - anch[0], mean_r - mean_r[0], atol=1e-9)


# ---- degenerate inputs -----------------------------------------------------------------------------------


def test_empty_and_single_model():
    for m in (0, 1):
        fit = fit_bt(aggregate([], [], [], m))
        assert fit.theta.shape == (m,) and np.all(np.isfinite(fit.theta))


def test_undefeated_and_winless_models_are_finite_and_flagged_unrankable():
    # model 0 beats everyone; model 3 loses to everyone; 1 and 2 trade wins
    a = [0, 0, 1, 2, 1, 2, 1]
    b = [1, 2, 2, 1, 3, 3, 2]
    o = [0, 0, 0, 0, 0, 0, 1]
    pc = aggregate(a, b, o, 4)
    rankable, n_comp = rankable_models(pc)
    assert n_comp == 3
    assert rankable.tolist() == [False, True, True, False]
    fit = fit_bt(pc)
    assert fit.ridge > 0 and fit.converged and np.all(np.isfinite(fit.theta))
    r = Identification.make(fit.rankable).ratings(fit.theta)
    assert r[0] > r[1] and r[0] > r[2] and r[3] < r[1] and r[3] < r[2]
    assert (r[1] + r[2]) / 2 == pytest.approx(1000.0)  # mean over rankable models


def test_disconnected_groups_do_not_hang_or_produce_nan():
    a = [0, 1, 0, 2, 3, 2]
    b = [1, 0, 1, 3, 2, 3]
    o = [0, 0, 2, 0, 0, 1]
    fit = fit_bt(aggregate(a, b, o, 4))
    assert fit.converged and np.all(np.isfinite(fit.theta))
    assert fit.rankable.sum() == 2


def test_tie_only_data_gives_equal_ratings():
    fit = fit_bt(aggregate([0, 1, 2], [1, 2, 0], [2, 3, 2], 3))
    np.testing.assert_allclose(fit.theta, 0, atol=1e-12)
    assert fit.ridge == 0
