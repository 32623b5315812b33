"""The vote-integrity scan: exact null distributions, calibration on honest judges, power on bots."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.special import expit, ndtr

from leaderboard.bt import fit_bt
from leaderboard.data import aggregate
from leaderboard.integrity import (
    outcome_model,
    scan_judges,
    score_z,
    surprise_pvalues,
    vote_uniforms,
)
from leaderboard.multitest import (
    adjust,
    benjamini_hochberg,
    bonferroni,
    fisher_by_group,
    stouffer_by_group,
)
from leaderboard.style import fit_style
from tests.leaderboard.integrity_sim import simulate_arena

# ---- combinations and corrections ----------------------------------------------------------------------


def test_fisher_by_group_matches_scipy_combine_pvalues_for_every_group():
    rng = np.random.default_rng(0)
    p = rng.random(300) ** 1.5
    g = rng.integers(0, 7, 300)
    got = fisher_by_group(p, g, 8)
    for k in range(7):
        ref = stats.combine_pvalues(p[g == k], method="fisher")
        assert got.count[k] == (g == k).sum()
        assert got.statistic[k] == pytest.approx(ref.statistic, rel=1e-12)
        assert got.pvalue[k] == pytest.approx(ref.pvalue, rel=1e-9)
    assert (got.count[7], got.statistic[7], got.pvalue[7]) == (0, 0.0, 1.0)  # an empty group: no evidence


def test_stouffer_by_group_matches_scipy_one_sided_and_is_symmetric_two_sided():
    rng = np.random.default_rng(1)
    p = rng.random(200)
    g = rng.integers(0, 4, 200)
    z = stats.norm.isf(p)  # scipy's Stouffer: Z = sum isf(p) / sqrt(k), p = sf(Z)
    one = stouffer_by_group(z, g, 4, two_sided=False)
    two = stouffer_by_group(z, g, 4)
    for k in range(4):
        ref = stats.combine_pvalues(p[g == k], method="stouffer")
        assert one.statistic[k] == pytest.approx(ref.statistic, rel=1e-12)
        assert one.pvalue[k] == pytest.approx(ref.pvalue, rel=1e-9)
        assert two.pvalue[k] == pytest.approx(2 * stats.norm.sf(abs(ref.statistic)), rel=1e-9)


def test_benjamini_hochberg_matches_scipy_and_bonferroni_is_n_times_p_capped():
    rng = np.random.default_rng(2)
    p = np.concatenate([rng.random(50), rng.random(10) * 1e-4, [0.0, 1.0, 0.3, 0.3]])
    assert benjamini_hochberg(p) == pytest.approx(stats.false_discovery_control(p, method="bh"), rel=1e-12)
    assert benjamini_hochberg([0.01, 0.04, 0.03]).tolist() == pytest.approx([0.03, 0.04, 0.04])
    assert bonferroni([0.01, 0.5, 0.2]).tolist() == pytest.approx([0.03, 1.0, 0.6])
    assert benjamini_hochberg([]).shape == (0,)
    with pytest.raises(ValueError, match="bh or bonferroni"):
        adjust([0.1], "holm")


# ---- per-vote p-values are exactly uniform under the null ----------------------------------------------


def _cdf_of_randomised(lo: np.ndarray, hi: np.ndarray, weights: np.ndarray, t: np.ndarray) -> np.ndarray:
    """P(value <= t) when outcome k (probability weights[k]) gives a value uniform on [lo[k], hi[k]]."""
    frac = np.clip((t[:, None] - lo[None, :]) / (hi - lo)[None, :], 0.0, 1.0)
    return np.asarray(frac @ weights)


@pytest.mark.parametrize(
    "row", [[0.5, 0.3, 0.15, 0.05], [0.4, 0.4, 0.1, 0.1], [0.25] * 4, [0.9997, 1e-4, 1e-4, 1e-4]]
)
def test_surprise_and_score_pits_are_exactly_uniform_for_any_outcome_distribution(row):
    probs = np.tile(row, (4, 1))
    codes = np.arange(4)
    t = np.linspace(0, 1, 101)
    lo, hi = surprise_pvalues(probs, codes, np.zeros(4)), surprise_pvalues(probs, codes, np.ones(4))
    assert _cdf_of_randomised(lo, hi, np.array(row), t) == pytest.approx(t, abs=1e-12)
    # the least probable outcome gets the smallest p-values
    assert np.argmin(lo) == np.argmin(row)
    zlo, zhi = ndtr(score_z(probs, codes, np.zeros(4))), ndtr(score_z(probs, codes, np.ones(4)))
    assert _cdf_of_randomised(zlo, zhi, np.array(row), t) == pytest.approx(t, abs=1e-9)


def test_outcome_model_keeps_the_bt_expected_score_and_the_pair_tie_rate():
    rng = np.random.default_rng(3)
    theta = np.array([0.0, 0.4, -0.3])
    a = rng.integers(0, 3, 30_000)
    b = (a + rng.integers(1, 3, 30_000)) % 3
    o = np.where(rng.random(30_000) < 0.2, 2 + (rng.random(30_000) < 0.25), rng.integers(0, 2, 30_000))
    null = outcome_model(a, b, o, theta)
    p = null.probs
    assert p.sum(axis=1) == pytest.approx(np.ones(len(a)))
    s = p[:, 0] + 0.5 * (p[:, 2] + p[:, 3])
    assert s == pytest.approx(expit(theta[a] - theta[b]), abs=1e-12)
    assert (p[:, 2] + p[:, 3]).mean() == pytest.approx(0.2, abs=0.01)
    assert (p[:, 3] / (p[:, 2] + p[:, 3])).mean() == pytest.approx(0.25, abs=0.02)


def test_vote_uniforms_are_deterministic_open_interval_and_uniform():
    ids = np.arange(1, 50_001)
    u = vote_uniforms(ids)
    assert np.array_equal(u, vote_uniforms(ids))
    assert ((u > 0) & (u < 1)).all()
    assert not np.array_equal(u, vote_uniforms(ids, key=1))
    assert stats.kstest(u, "uniform").pvalue > 0.01


# ---- honest judges are calibrated, bots are found ------------------------------------------------------


def _scan(ar, rng, *, style: bool, covariate: bool = True, **kw):
    m = len(ar.theta)
    if style:
        x = ar.style_x()
        fit = fit_style(ar.a, ar.b, ar.o, m, x)
        null = outcome_model(ar.a, ar.b, ar.o, fit.theta, offset=x @ fit.beta, rated=fit.rankable)
    else:
        bt = fit_bt(aggregate(ar.a, ar.b, ar.o, m))
        null = outcome_model(ar.a, ar.b, ar.o, bt.theta, rated=bt.rankable)
    cov = ar.tokens_a - ar.tokens_b if covariate else None
    return scan_judges(ar.judge, ar.a, ar.b, ar.o, null, ar.n_judges, rng, covariate=cov, **kw)


def test_honest_judges_p_values_are_uniform_and_not_flagged_beyond_the_nominal_rate():
    rng = np.random.default_rng(4)
    surprise, cov, flagged, screened, bias_p = [], [], 0, 0, []
    for _ in range(4):
        ar = simulate_arena(rng, honest=300, bots={})
        scan = _scan(ar, rng, style=True)
        surprise.append(scan.surprise_p)
        cov.append(scan.covariate_z)
        bias_p.append(scan.bias_p)
        flagged += int(scan.flagged.sum())
        screened += int(scan.screened.sum())
    ps, zs, bp = np.concatenate(surprise), np.concatenate(cov), np.concatenate(bias_p)
    assert stats.kstest(ps, "uniform").pvalue > 0.01
    assert stats.kstest(zs, "norm").pvalue > 0.01
    # model_bias is a Bonferroni minimum over models, so at most (not exactly) nominal
    assert (bp < 0.05).mean() < 0.05 + 3 * np.sqrt(0.05 * 0.95 / len(bp))
    # with no bot every flag is a false discovery: BH at 0.05 flags none in 95% of arenas
    assert screened == 1200
    assert flagged <= 2


def test_the_unrandomised_p_value_is_not_uniform_which_is_why_we_randomise():
    rng = np.random.default_rng(5)
    ar = simulate_arena(rng, honest=300, bots={})
    scan = _scan(ar, np.ones(len(ar.a)) - 1e-12, style=True)  # u = 1: "at least as surprising"
    assert stats.kstest(scan.surprise_p, "uniform").pvalue < 1e-6
    assert np.median(scan.surprise_p) > 0.9  # conservative: Fisher would almost never reject


@pytest.mark.parametrize("strength", ["strongest", "weakest"])
def test_an_always_model_x_bot_is_flagged_and_its_model_named(strength):
    rng = np.random.default_rng(6)
    ar = simulate_arena(rng, bots={"favourite": 1}, votes=(200, 250))
    bot = ar.n_judges - 1
    x = int(np.argmax(ar.theta) if strength == "strongest" else np.argmin(ar.theta))
    rows = ar.judge == bot  # re-point the bot at the chosen model
    other = np.where(ar.a[rows] == ar.favourite[bot], ar.b[rows], ar.a[rows])
    other = np.where(other == x, (x + 1) % len(ar.theta), other)
    ar.a[rows], ar.b[rows], ar.o[rows] = x, other, 0
    scan = _scan(ar, rng, style=True)
    assert scan.flagged[bot]
    assert scan.bias_model[bot] == x and scan.bias_z[bot] > 5
    assert scan.flagged_judges()[0] == bot
    if strength == "strongest":  # votes for the favourite are unsurprising: the paper's test misses it
        assert scan.surprise_p[bot] > 0.05
        paper = _scan(ar, rng, style=True, tests=("surprise",))
        assert not paper.flagged[bot]


def test_random_and_longer_answer_bots_are_flagged_and_honest_judges_mostly_not():
    rng = np.random.default_rng(7)
    ar = simulate_arena(rng, bots={"random": 2, "longer": 2}, votes=(200, 300))
    scan = _scan(ar, rng, style=True)
    bots = np.flatnonzero(ar.is_bot())
    assert scan.flagged[bots].all()
    assert (scan.surprise_p[bots[:2]] < 1e-6).all()  # random votes: too many ties and upsets
    assert (scan.covariate_z[bots[2:]] > 5).all()  # always the longer answer
    assert scan.flagged[~ar.is_bot()].sum() <= 2


def test_a_covariate_test_against_a_ratings_only_null_flags_honest_judges_who_like_long_answers():
    rng = np.random.default_rng(8)
    ar = simulate_arena(rng, honest=200, bots={}, beta=0.4)
    assert _scan(ar, rng, style=False).flagged.sum() > 20
    assert _scan(ar, rng, style=True).flagged.sum() <= 2


# ---- edge cases ----------------------------------------------------------------------------------------


def _tiny(outcome):
    a = np.array([0, 1, 0, 2, 1, 0])
    b = np.array([1, 2, 2, 0, 0, 1])
    return a, b, np.asarray(outcome)


def test_a_judge_with_one_vote():
    a, b, o = _tiny([0, 0, 1, 2, 0, 1])
    judge = np.array([0, 0, 0, 0, 0, 1])
    null = outcome_model(a, b, o, np.zeros(3))
    u = np.full(6, 0.5)
    scan = scan_judges(judge, a, b, o, null, 2, u, min_votes=1)
    p_last = surprise_pvalues(null.probs[5:], o[5:], u[5:])[0]
    assert scan.votes.tolist() == [5, 1]
    assert scan.surprise_statistic[1] == pytest.approx(-2 * np.log(p_last))
    assert scan.surprise_p[1] == pytest.approx(p_last)  # chi-squared with 2 df: exp(-x/2)
    assert not scan.flagged.any()
    default = scan_judges(judge, a, b, o, null, 2, u)  # min_votes 5: judge 1 is not screened
    assert default.screened.tolist() == [True, False]
    assert default.pvalue[1] == 1.0 and np.isnan(default.adjusted[1]) and not default.flagged[1]


def test_votes_on_models_without_a_rating_are_left_out():
    a, b, o = _tiny([0, 0, 1, 2, 0, 1])
    judge = np.array([0, 1, 0, 0, 1, 0])
    theta = np.array([0.0, 0.3, np.nan])  # model 2 has no rating
    null = outcome_model(a, b, o, theta)
    assert null.scored.tolist() == [True, False, False, False, True, True]
    assert np.isfinite(null.probs).all()
    scan = scan_judges(judge, a, b, o, null, 3, np.full(6, 0.5), min_votes=1)
    assert scan.votes.tolist() == [2, 1, 0]
    assert not scan.screened[2] and scan.bias_model[2] == -1
    unrankable = outcome_model(a, b, o, np.zeros(3), rated=[True, True, False])
    assert np.array_equal(unrankable.scored, null.scored)


def test_all_ties_flag_nobody_and_stay_finite():
    rng = np.random.default_rng(9)
    n, m = 2000, 5
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    o = rng.choice([2, 3], n)
    judge = rng.integers(0, 20, n)
    fit = fit_bt(aggregate(a, b, o, m))
    null = outcome_model(a, b, o, fit.theta, rated=fit.rankable)
    scan = scan_judges(judge, a, b, o, null, 20, rng, covariate=rng.normal(size=n))
    assert np.isfinite(scan.surprise_statistic).all() and np.isfinite(scan.pvalue).all()
    assert not scan.flagged.any()


def test_no_votes_and_bad_arguments():
    empty = np.zeros(0, dtype=np.int64)
    null = outcome_model(empty, empty, empty, np.zeros(3))
    scan = scan_judges(empty, empty, empty, empty, null, 4, np.zeros(0))
    assert scan.votes.tolist() == [0, 0, 0, 0] and not scan.flagged.any()
    assert scan.flagged_judges().tolist() == []
    a, b, o = _tiny([0, 0, 1, 2, 0, 1])
    null = outcome_model(a, b, o, np.zeros(3))
    j, u = np.zeros(6, dtype=np.int64), np.full(6, 0.5)
    with pytest.raises(ValueError, match="covariate test needs"):
        scan_judges(j, a, b, o, null, 1, u, tests=("covariate",))
    with pytest.raises(ValueError, match="unknown or no tests"):
        scan_judges(j, a, b, o, null, 1, u, tests=("vibes",))
    with pytest.raises(ValueError, match="judge codes"):
        scan_judges(j + 1, a, b, o, null, 1, u)
    with pytest.raises(ValueError, match="uniforms"):
        scan_judges(j, a, b, o, null, 1, np.zeros(6))
    with pytest.raises(ValueError, match="correction"):
        scan_judges(j, a, b, o, null, 1, u, correction="holm")
    with pytest.raises(ValueError, match="offset"):
        outcome_model(a, b, o, np.zeros(3), offset=np.full(6, np.nan))


def test_a_reference_mask_keeps_flagged_judges_votes_out_of_the_tie_rates():
    rng = np.random.default_rng(10)
    n = 4000
    a = np.zeros(n, dtype=np.int64)
    b = np.ones(n, dtype=np.int64)
    o = np.where(rng.random(n) < 0.1, 2, rng.integers(0, 2, n))
    o[:1000] = 2  # a judge that always ties
    honest = np.arange(n) >= 1000
    tie = lambda null: float((null.probs[:, 2] + null.probs[:, 3]).mean())  # noqa: E731
    assert tie(outcome_model(a, b, o, np.zeros(2))) == pytest.approx(0.325, abs=0.02)
    assert tie(outcome_model(a, b, o, np.zeros(2), reference=honest)) == pytest.approx(0.1, abs=0.02)
    with pytest.raises(ValueError, match="one flag per vote"):
        outcome_model(a, b, o, np.zeros(2), reference=honest[:10])
