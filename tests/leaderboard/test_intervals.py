"""Bootstrap (exact multinomial resampling, seeded), sandwich intervals, rank (UB), coverage."""

from __future__ import annotations

import numpy as np
import pytest

from leaderboard.bootstrap import bootstrap_thetas, multinomial_rounds, percentile_intervals
from leaderboard.bt import Identification, fit_bt
from leaderboard.data import aggregate
from leaderboard.ranking import rank_ub
from leaderboard.sandwich import sandwich_intervals
from tests.leaderboard.test_elo_bt import simulate


def test_multinomial_rounds_has_exact_total_and_multinomial_moments():
    counts = np.array([500, 3, 0, 1200, 40, 7, 250])
    n = counts.sum()
    draws = multinomial_rounds(counts, np.random.default_rng(5), 20000)
    assert np.all(draws.sum(axis=1) == n)
    assert np.all(draws[:, 2] == 0) and np.all(draws >= 0)
    p = counts / n
    tol = 4 * np.sqrt(n * p * (1 - p) / 20000) + 1e-9
    assert np.all(np.abs(draws.mean(axis=0) - n * p) <= tol)
    cov = np.cov(draws.T)
    expected = n * (np.diag(p) - np.outer(p, p))
    var = np.diag(expected)
    se = np.sqrt(np.outer(var, var) + expected**2) / np.sqrt(20000)  # sampling s.e. of a covariance
    assert np.all(np.abs(cov - expected) <= 5 * se + 1e-9)


def test_bootstrap_is_deterministic_for_a_seed_and_independent_of_thread_count():
    a, b, o, _ = simulate(6, 800, seed=7)
    pc = aggregate(a, b, o, 6)
    fit = fit_bt(pc)
    t1 = bootstrap_thetas(pc, fit, np.random.default_rng(42), rounds=60, threads=1)
    t2 = bootstrap_thetas(pc, fit, np.random.default_rng(42), rounds=60, threads=2)
    t3 = bootstrap_thetas(pc, fit, np.random.default_rng(43), rounds=60, threads=2)
    np.testing.assert_array_equal(t1, t2)
    assert not np.array_equal(t1, t3)


def test_each_bootstrap_round_is_the_mle_of_its_resample():
    a, b, o, _ = simulate(5, 400, seed=8)
    pc = aggregate(a, b, o, 5)
    fit = fit_bt(pc)
    rng = np.random.default_rng(3)
    thetas = bootstrap_thetas(pc, fit, rng, rounds=5, threads=1)
    # redo the draws of the single chunk exactly as bootstrap_thetas does
    from leaderboard.bootstrap import draw_rounds

    seed = np.random.default_rng(3).integers(0, 2**63, size=1)[0]
    iw, jw, ti = draw_rounds(pc, np.random.Generator(np.random.PCG64(int(seed))), 5)
    for r in range(5):
        ref = fit_bt(pc.with_counts(iw[r], jw[r], ti[r])).theta
        np.testing.assert_allclose(thetas[r] - thetas[r].mean(), ref - ref.mean(), atol=1e-7)


def test_bootstrap_survives_rounds_where_a_model_loses_all_its_wins():
    # model 2 has a single win among a few battles: many resamples drop it
    a = [0, 1, 0, 1, 2, 0, 1, 2, 2, 0]
    b = [1, 0, 1, 0, 0, 2, 2, 1, 0, 1]
    o = [0, 0, 1, 2, 0, 0, 0, 1, 1, 0]
    pc = aggregate(a, b, o, 3)
    fit = fit_bt(pc)
    assert fit.ridge == 0
    thetas = bootstrap_thetas(pc, fit, np.random.default_rng(0), rounds=200, threads=2)
    finite = np.isfinite(thetas)
    assert finite.all() or np.isnan(thetas[~finite]).all()
    lo, hi = percentile_intervals(Identification.make(fit.rankable).ratings(thetas))
    assert np.all(np.isfinite(lo)) and np.all(hi >= lo)


def test_rank_ub_closed_form():
    lower = [1100, 1050, 1040, 900]
    upper = [1200, 1110, 1060, 1000]
    # model 0: nobody's lower > 1200 -> 1; model 1: lower 1100 > 1110? no -> 1; model 2: 1100 > 1060,
    # 1050 < 1060 -> 2; model 3: 1100, 1050, 1040 > 1000 -> 4
    assert rank_ub(lower, upper).tolist() == [1, 1, 2, 4]
    assert rank_ub([], []).tolist() == []


def test_sandwich_and_bootstrap_intervals_agree_on_large_data():
    a, b, o, _ = simulate(8, 40000, seed=11)
    pc = aggregate(a, b, o, 8)
    fit = fit_bt(pc)
    ident = Identification.make(fit.rankable)
    slo, shi = sandwich_intervals(pc, fit, ident)
    thetas = bootstrap_thetas(pc, fit, np.random.default_rng(1), rounds=400, threads=2)
    blo, bhi = percentile_intervals(ident.ratings(thetas))
    np.testing.assert_allclose(shi - slo, bhi - blo, rtol=0.15)


@pytest.mark.parametrize("method", ["bootstrap", "sandwich"])
def test_interval_coverage_is_near_95_percent_on_simulated_data(method):
    m, datasets = 6, 60
    covered = total = 0
    rng_true = np.random.default_rng(100)
    true = rng_true.normal(0, 0.6, m)
    true_r = 1000 + 400 / np.log(10) * (true - true.mean())
    for s in range(datasets):
        rng = np.random.default_rng(1000 + s)
        n = 1500
        a = rng.integers(0, m, n)
        b = (a + rng.integers(1, m, n)) % m
        p = 1 / (1 + np.exp(true[b] - true[a]))
        o = np.where(rng.random(n) < p, 0, 1)
        pc = aggregate(a, b, o, m)
        fit = fit_bt(pc)
        ident = Identification.make(fit.rankable)
        if method == "sandwich":
            lo, hi = sandwich_intervals(pc, fit, ident)
        else:
            lo, hi = percentile_intervals(
                ident.ratings(bootstrap_thetas(pc, fit, rng, rounds=200, threads=1))
            )
        covered += int(np.sum((lo <= true_r) & (true_r <= hi)))
        total += m
    coverage = covered / total
    assert 0.89 <= coverage <= 0.99, coverage
