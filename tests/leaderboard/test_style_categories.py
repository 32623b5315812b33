"""Style control (fit, gradient, intervals), markdown counts and categories."""

from __future__ import annotations

import numpy as np
import pytest

from leaderboard.bt import Identification, fit_bt
from leaderboard.categories import (
    BUILTIN_CATEGORIES,
    battle_categories,
    category_filter,
    file_row_categories,
    validate_category,
)
from leaderboard.data import SCORE_A, aggregate
from leaderboard.style import _Problem, count_style, fit_style, style_control, style_covariates


def _style_data(m=12, n=30000, seed=2, beta=(0.4, 0.1, 0.2, 0.0), tie_rate=0.1):
    rng = np.random.default_rng(seed)
    true = rng.normal(0, 1, m)
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    fa = rng.poisson([300, 2, 5, 3], (n, 4))
    fb = rng.poisson([300, 2, 5, 3], (n, 4))
    x, _, _ = style_covariates(fa, fb)
    p = 1 / (1 + np.exp(-(true[a] - true[b] + x @ np.array(beta))))
    u = rng.random(n)
    o = np.where(u < tie_rate, 2, np.where(rng.random(n) < p, 0, 1))
    return a, b, o, fa, fb, true, m


def test_covariates_are_normalised_differences_standardised():
    fa = np.array([[10, 0, 1, 0], [0, 2, 1, 0], [5, 1, 1, 0]])
    fb = np.array([[0, 0, 1, 0], [10, 0, 1, 0], [5, 3, 1, 0]])
    x, mean, std = style_covariates(fa, fb)
    raw = (fa - fb) / (fa + fb + 1)
    np.testing.assert_allclose(x[:, 0], (raw[:, 0] - raw[:, 0].mean()) / raw[:, 0].std())
    assert np.all(x[:, 2] == 0) and np.all(x[:, 3] == 0)  # no variation: dropped
    assert std[2] == 0


def test_style_fit_recovers_known_coefficients_and_ratings():
    a, b, o, fa, fb, true, m = _style_data(tie_rate=0.0)  # ties (random here) would attenuate beta
    res = style_control(a, b, o, m, fa, fb, lambda rk: Identification.make(rk))
    assert res.fit.converged and res.fit.grad_norm < 1e-8
    for name, want in zip(("tokens", "headers", "lists", "bold"), (0.4, 0.1, 0.2, 0.0), strict=True):
        assert (
            res.coef_lower[name] <= want <= res.coef_upper[name] or abs(res.coefficients[name] - want) < 0.03
        )
    true_r = 1000 + 400 / np.log(10) * (true - true.mean())
    assert np.mean((res.lower <= true_r) & (true_r <= res.upper)) >= 0.75
    assert np.max(np.abs(res.ratings - true_r)) < 25


def test_style_gradient_matches_finite_differences():
    a, b, o, fa, fb, _, m = _style_data(m=5, n=400)
    x, _, _ = style_covariates(fa, fb)
    prob = _Problem(a, b, SCORE_A[o], x, np.ones(len(a)), m)
    rng = np.random.default_rng(1)
    theta, beta = rng.normal(0, 0.3, m), rng.normal(0, 0.3, 4)
    g = prob.grad(theta, beta, 0.0)
    eps = 1e-6
    for k in range(m + 4):
        e = np.zeros(m + 4)
        e[k] = eps
        f_plus = prob.nll(theta + e[:m], beta + e[m:], 0.0)
        f_minus = prob.nll(theta - e[:m], beta - e[m:], 0.0)
        assert g[k] == pytest.approx((f_plus - f_minus) / (2 * eps), rel=1e-5, abs=1e-5)


def test_style_fit_without_style_differences_equals_plain_bt():
    a, b, o, _, _, _, m = _style_data(m=6, n=3000)
    same = np.ones((len(a), 4))
    sf = fit_style(a, b, o, m, style_covariates(same, same)[0])
    plain = fit_bt(aggregate(a, b, o, m))
    np.testing.assert_allclose(sf.theta - sf.theta.mean(), plain.theta - plain.theta.mean(), atol=1e-8)


def test_style_bootstrap_intervals_are_seeded_and_close_to_sandwich():
    a, b, o, fa, fb, _, m = _style_data(m=5, n=4000)
    ident = lambda rk: Identification.make(rk)  # noqa: E731
    r1 = style_control(a, b, o, m, fa, fb, ident, ci="bootstrap", rounds=40, rng=np.random.default_rng(1))
    r2 = style_control(a, b, o, m, fa, fb, ident, ci="bootstrap", rounds=40, rng=np.random.default_rng(1))
    sw = style_control(a, b, o, m, fa, fb, ident)
    np.testing.assert_array_equal(r1.lower, r2.lower)
    np.testing.assert_allclose(r1.upper - r1.lower, sw.upper - sw.lower, rtol=0.35)
    with pytest.raises(ValueError, match="sandwich"):
        style_control(a, b, o, m, fa, fb, ident, ci="jackknife")


@pytest.mark.parametrize("ci", ["sandwich", "bootstrap"])
def test_uniform_or_collinear_style_does_not_break_the_fit(ci):
    a, b, o, fa, fb, _, m = _style_data(m=5, n=2000)
    same = np.ones((len(a), 4))
    plain = fit_bt(aggregate(a, b, o, m))
    kw = {"ci": ci, "rounds": 20, "rng": np.random.default_rng(0)}
    res = style_control(a, b, o, m, same, same, Identification.make, **kw)
    assert res.coefficients == {"tokens": 0.0, "headers": 0.0, "lists": 0.0, "bold": 0.0}
    assert np.isnan(res.coef_lower["tokens"]) and np.all(np.isfinite(res.lower))
    np.testing.assert_allclose(
        res.ratings, Identification.make(plain.rankable).ratings(plain.theta), atol=1e-6
    )
    # headers always equal to lists: collinear covariates
    fa2, fb2 = fa.copy(), fb.copy()
    fa2[:, 2], fb2[:, 2] = fa2[:, 1], fb2[:, 1]
    res2 = style_control(a, b, o, m, fa2, fb2, Identification.make, **kw)
    assert np.all(np.isfinite(res2.lower)) and np.all(np.isfinite(res2.upper))


def test_style_control_on_no_battles_returns_a_trivial_result():
    empty = np.zeros(0, dtype=int)
    res = style_control(empty, empty, empty, 0, np.zeros((0, 4)), np.zeros((0, 4)), Identification.make)
    assert res.ratings.shape == (0,) and res.coefficients["tokens"] == 0.0


def test_count_style_counts_markdown_outside_code():
    text = (
        "# Title\n\nIntro **bold** and __also__.\n\n- one\n* two\n1. three\n2) four\n"
        "```python\n# comment\n- x\n**y**\n```\n### End"
    )
    c = count_style(text)
    assert (c.headers, c.lists, c.bold, c.has_code) == (2, 4, 2, True)
    plain = count_style("no markdown here. #hashtag, 3.5 and a*b*c")
    assert (plain.headers, plain.lists, plain.bold, plain.has_code) == (0, 0, 0, False)


def test_battle_categories():
    assert battle_categories(turn_count=1, prompts=["hi"]) == []
    assert battle_categories(turn_count=3, prompts=["hi"]) == ["multi_turn"]
    assert battle_categories(turn_count=1, prompts=["x" * 2000]) == ["long_prompt"]
    assert battle_categories(turn_count=1, prompts=["fix ```\nprint(1)\n```"]) == ["code"]
    assert battle_categories(turn_count=1, prompts=["why?"], answers=["def f():\n  return 1;\n}\n"]) == [
        "code"
    ]
    assert battle_categories(
        turn_count=1, prompts=["q"], has_code=True, extra_tags=["lang:de", "overall"]
    ) == ["code", "lang:de"]
    with pytest.raises(ValueError, match="invalid category"):
        battle_categories(turn_count=1, prompts=[], extra_tags=["Bad Tag"])


def test_category_filters_and_file_rows():
    assert BUILTIN_CATEGORIES[0] == "overall"
    assert category_filter("overall").kind == "all"
    assert category_filter("multi_turn").min_turns == 2
    assert category_filter("code").tag == "code"
    assert validate_category("lang:de") == "lang:de"
    with pytest.raises(ValueError):
        validate_category("")
    assert file_row_categories(3, ["code"]) == {"overall", "multi_turn", "code"}
    assert file_row_categories(None) == {"overall"}
