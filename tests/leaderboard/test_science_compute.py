"""The science options inside ``compute_leaderboard``: cluster intervals, Davidson ties, sampling weights and
the stored fragility line, each checked against the pure functions it wires (and closed forms)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from leaderboard.active_sampling import SamplingData, active_probabilities, theta_probabilities
from leaderboard.bootstrap import identify_rounds, percentile_intervals
from leaderboard.bt import Identification, fit_bt
from leaderboard.clusters import cluster_bootstrap_thetas, cluster_cells, clustered_sandwich_intervals
from leaderboard.compute import BattleData, ComputeParams, LeaderboardResult, compute_leaderboard
from leaderboard.data import aggregate
from leaderboard.davidson import fit_davidson, sandwich_cov
from leaderboard.flip_search import find_flip
from leaderboard.fragility import Target, fragility_line
from leaderboard.sandwich import sandwich_intervals
from leaderboard.weighted import weighted_bootstrap_thetas, weighted_sandwich_intervals, weighted_votes

M = 6


def _arena(n: int, seed: int, judges: int = 60):
    rng = np.random.default_rng(seed)
    theta = np.linspace(-0.8, 0.8, M)
    a = rng.integers(0, M, n)
    b = (a + rng.integers(1, M, n)) % M
    p = 1 / (1 + np.exp(theta[b] - theta[a]))
    u = rng.random(n)
    o = np.where(u < 0.2, np.where(u < 0.06, 3, 2), np.where(rng.random(n) < p, 0, 1))
    judge = rng.integers(0, judges, n)
    return a, b, o, judge


def _data(a, b, o, **kw) -> BattleData:
    return BattleData([f"m{k}" for k in range(M)], aggregate(a, b, o, M), (a, b, o), **kw)


def _by_model(res: LeaderboardResult, values) -> np.ndarray:
    """Result lists are sorted by rating: put them back in model-index order."""
    pos = {name: k for k, name in enumerate(res.models)}
    return np.array([values[pos[f"m{k}"]] for k in range(M)])


def test_cluster_intervals_are_the_cluster_functions_and_are_recorded():
    a, b, o, judge = _arena(3000, 1)
    cells = cluster_cells(a, b, o, M, judge)
    fit = fit_bt(cells.pairs)
    ident = Identification.make(fit.rankable)
    res = compute_leaderboard(
        _data(a, b, o, clusters=cells), ComputeParams(ci="cluster-sandwich", cluster="judge")
    )
    lo, hi = clustered_sandwich_intervals(cells, fit, ident)
    np.testing.assert_allclose(_by_model(res, res.lower), lo, atol=1e-9)
    np.testing.assert_allclose(_by_model(res, res.upper), hi, atol=1e-9)
    assert res.clusters == 60 and res.params.cluster == "judge"

    boot = compute_leaderboard(
        _data(a, b, o, clusters=cells),
        ComputeParams(ci="cluster-bootstrap", cluster="judge", rounds=50, seed=3),
    )
    thetas = cluster_bootstrap_thetas(cells, fit, np.random.default_rng(3), rounds=50, threads=2)
    lo, hi = percentile_intervals(identify_rounds(ident, thetas))
    np.testing.assert_allclose(_by_model(boot, boot.lower), lo, atol=1e-9)
    back = LeaderboardResult.from_json(json.loads(json.dumps(boot.to_json())))
    assert back.clusters == 60 and back.params.ci == "cluster-bootstrap" and back.params.cluster == "judge"


def test_cluster_options_are_checked():
    with pytest.raises(ValueError, match="needs --cluster"):
        ComputeParams(ci="cluster-bootstrap")
    with pytest.raises(ValueError, match="applies to --ci cluster"):
        ComputeParams(ci="sandwich", cluster="judge")
    with pytest.raises(ValueError, match="no cluster intervals"):
        ComputeParams(ci="cluster-sandwich", cluster="judge", ties="davidson")
    a, b, o, _ = _arena(500, 2)
    with pytest.raises(ValueError, match="needs each vote's judge"):
        compute_leaderboard(_data(a, b, o), ComputeParams(ci="cluster-sandwich", cluster="judge"))


def test_davidson_ratings_tie_parameter_and_its_split():
    a, b, o, _ = _arena(4000, 3)
    pc = aggregate(a, b, o, M)
    bothbad = float((o == 3).sum())
    params = ComputeParams(ties="davidson", ci="sandwich", fragility=True)
    res = compute_leaderboard(_data(a, b, o, bothbad=bothbad), params)
    d = fit_davidson(pc, bothbad=bothbad)
    ident = Identification.make(d.rankable)
    np.testing.assert_allclose(_by_model(res, res.rating), ident.ratings(d.theta), atol=1e-7)
    tm = res.tie_model
    assert tm is not None and tm.model == "davidson"
    assert tm.nu == pytest.approx(d.nu, rel=1e-9)
    assert tm.nu_bothbad / tm.nu == pytest.approx(bothbad / pc.ties.sum(), rel=1e-9)
    assert tm.nu_tie + tm.nu_bothbad == pytest.approx(tm.nu, rel=1e-9)
    assert tm.tie_probability_equal == pytest.approx(d.nu / (2 + d.nu))
    assert tm.nu_lower < tm.nu < tm.nu_upper
    cov = sandwich_cov(pc, d)
    sd = 400 / math.log(10) * np.sqrt(np.diag((np.eye(M) - 1 / M) @ cov[:M, :M] @ (np.eye(M) - 1 / M).T))
    np.testing.assert_allclose(
        _by_model(res, res.upper) - _by_model(res, res.rating), 1.959964 * sd, rtol=1e-5
    )
    # fragility is a statement about the ties-as-half ranking: not computed for the Davidson one
    assert res.fragility is None
    back = LeaderboardResult.from_json(json.loads(json.dumps(res.to_json())))
    assert back.tie_model == tm and back.params.ties == "davidson"
    boot = compute_leaderboard(_data(a, b, o), ComputeParams(ties="davidson", rounds=40))
    assert all(lo < r < hi for lo, r, hi in zip(boot.lower, boot.rating, boot.upper, strict=True))


def test_davidson_spreads_ratings_more_than_ties_as_half_when_ties_are_common():
    a, b, o, _ = _arena(6000, 4)
    half = compute_leaderboard(_data(a, b, o), ComputeParams(ci="sandwich"))
    dav = compute_leaderboard(_data(a, b, o), ComputeParams(ci="sandwich", ties="davidson"))
    assert np.std(dav.rating) > np.std(half.rating)
    assert dav.models[0] == half.models[0]


def _weighted_arena(n: int, seed: int):
    """Votes drawn by a strongly non-uniform pair sampler, with their inverse-propensity weights."""
    rng = np.random.default_rng(seed)
    theta = np.linspace(-1.0, 1.0, M)
    i, j = np.triu_indices(M, 1)
    prob = rng.dirichlet(np.full(len(i), 0.7)) * 0.8 + 0.2 / len(i)
    k = rng.choice(len(i), size=n, p=prob)
    a, b = i[k], j[k]
    p = 1 / (1 + np.exp(theta[b] - theta[a]))
    u = rng.random(n)
    o = np.where(u < 0.1, 2, np.where(rng.random(n) < p, 0, 1))
    return a, b, o, 1.0 / (len(i) * prob[k])


def test_weighted_fit_and_intervals_follow_the_weights():
    a, b, o, w = _weighted_arena(4000, 5)
    wv = weighted_votes(a, b, o, M, w)
    res = compute_leaderboard(_data(a, b, o, weighted=wv), ComputeParams(ci="sandwich", fragility=True))
    fit = fit_bt(aggregate(a, b, o, M, w))
    ident = Identification.make(fit.rankable)
    assert res.weighted
    np.testing.assert_allclose(_by_model(res, res.rating), ident.ratings(fit.theta), atol=1e-7)
    lo, hi = weighted_sandwich_intervals(wv, fit, ident)
    np.testing.assert_allclose(_by_model(res, res.lower), lo, atol=1e-7)
    assert sum(res.votes) == 2 * len(a) and res.total_battles == len(a)
    off = compute_leaderboard(_data(a, b, o, weighted=wv), ComputeParams(ci="sandwich", weights="off"))
    assert not off.weighted
    # a removal set is counted in votes: not computed for a fit of weighted votes
    assert res.fragility is None
    boot = compute_leaderboard(_data(a, b, o, weighted=wv), ComputeParams(rounds=30))
    assert boot.weighted and all(lo < hi for lo, hi in zip(boot.lower, boot.upper, strict=True))
    with pytest.raises(ValueError, match="needs --ci sandwich"):
        compute_leaderboard(_data(a, b, o, weighted=wv), ComputeParams(ties="davidson"))


def test_unit_weights_change_nothing_under_auto_and_constant_weights_give_the_plain_sandwich():
    a, b, o, _ = _arena(2000, 6)
    plain = compute_leaderboard(_data(a, b, o), ComputeParams(rounds=40))
    unit = compute_leaderboard(
        _data(a, b, o, weighted=weighted_votes(a, b, o, M, np.ones(len(a)))), ComputeParams(rounds=40)
    )
    assert not unit.weighted and unit.to_json() | {"timings": {}} == plain.to_json() | {"timings": {}}
    # constant weights 2: H doubles, the meat quadruples, the covariance is unchanged
    wv = weighted_votes(a, b, o, M, np.full(len(a), 2.0))
    fit = fit_bt(wv.pairs)
    ident = Identification.make(fit.rankable)
    lo_w, hi_w = weighted_sandwich_intervals(wv, fit, ident)
    lo, hi = sandwich_intervals(aggregate(a, b, o, M), fit_bt(aggregate(a, b, o, M)), ident)
    np.testing.assert_allclose(lo_w, lo, atol=1e-7)
    np.testing.assert_allclose(hi_w, hi, atol=1e-7)


def test_weighted_bootstrap_matches_resampling_the_votes_one_by_one():
    """The grouped multinomial draw is the vote bootstrap: compare with resampling vote indices."""
    a, b, o, w = _weighted_arena(1500, 7)
    wv = weighted_votes(a, b, o, M, w)
    assert len(wv.group_cell) < len(a)  # votes of one cell and weight are grouped
    fit = fit_bt(wv.pairs)
    ident = Identification.make(fit.rankable)
    ours = identify_rounds(ident, weighted_bootstrap_thetas(wv, fit, np.random.default_rng(0), rounds=1200))
    rng = np.random.default_rng(1)
    brute = []
    for _ in range(800):
        k = rng.integers(0, len(a), len(a))
        brute.append(ident.ratings(fit_bt(aggregate(a[k], b[k], o[k], M, w[k])).theta))
    brute = np.array(brute)
    # sd of the rounds: relative s.e. ~ 1/sqrt(2R) per estimate, ~3.2% for the difference; allow 4 s.e.
    np.testing.assert_allclose(ours.std(axis=0), brute.std(axis=0), rtol=0.13)
    np.testing.assert_allclose(ours.mean(axis=0), brute.mean(axis=0), atol=0.25 * brute.std(axis=0).max())


def test_fragility_line_is_the_verified_search_of_the_point_fit():
    a, b, o, _ = _arena(1200, 8)
    res = compute_leaderboard(_data(a, b, o), ComputeParams(rounds=20, fragility=True))
    pc = aggregate(a, b, o, M)
    want = find_flip(pc, Target.top(1))
    assert res.fragility is not None and res.fragility.found == want.found
    assert res.fragility.n_removed == want.n_removed and res.fragility.n_total == len(a)
    assert res.fragility.line == fragility_line(want, [f"m{k}" for k in range(M)])
    back = LeaderboardResult.from_json(json.loads(json.dumps(res.to_json())))
    assert back.fragility == res.fragility and back.params.fragility


def test_the_neyman_rule_from_stored_ratings_equals_the_rule_from_the_votes():
    a, b, o, w = _weighted_arena(3000, 9)
    data = SamplingData.from_votes(a, b, o, w, M)
    want = active_probabilities(data, rule="neyman", floor=0.3)
    ratings = Identification.make(np.ones(M, bool)).ratings(fit_bt(data.weight_sum).theta)
    got = theta_probabilities((ratings - 1234.0) * math.log(10) / 400, floor=0.3)  # any shift
    np.testing.assert_allclose(got.prob, want.prob, rtol=1e-9)
