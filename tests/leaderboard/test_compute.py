"""The top-level compute: result contents, JSON round trip, anchors, figures, parameter checks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from leaderboard.compute import BattleData, ComputeParams, LeaderboardResult, StyleRows, compute_leaderboard
from leaderboard.data import aggregate
from tests.leaderboard.test_elo_bt import simulate


def _data(m=6, n=3000, seed=5, style=False):
    a, b, o, _ = simulate(m, n, seed=seed)
    models = [f"model-{i}" for i in range(m)]
    sr = None
    if style:
        rng = np.random.default_rng(seed)
        sr = StyleRows(a, b, o, rng.poisson(50, (n, 4)).astype(float), rng.poisson(50, (n, 4)).astype(float))
    return BattleData(models, aggregate(a, b, o, m), (a, b, o), sr)


def test_result_is_sorted_consistent_and_round_trips_through_json():
    data = _data(style=True)
    res = compute_leaderboard(data, ComputeParams(rounds=100, seed=3, style_control=True, min_votes=1000))
    assert res.rating == sorted(res.rating, reverse=True)
    assert all(lo <= r <= hi for lo, r, hi in zip(res.lower, res.rating, res.upper, strict=True))
    assert np.mean(res.rating) == pytest.approx(1000.0)
    assert sum(res.votes) == 2 * 3000 and res.total_battles == 3000
    assert res.preliminary == [v < 1000 for v in res.votes]
    assert res.fit.converged and res.fit.ridge == 0
    assert res.style is not None and set(res.style.coefficients) == {"tokens", "headers", "lists", "bold"}
    text = json.dumps(res.to_json(), allow_nan=False)
    back = LeaderboardResult.from_json(json.loads(text))
    assert back == res
    figs = back.figures()
    assert set(figs) == {"ratings", "win_fraction", "battle_count", "average_win_rate"}
    assert list(figs["ratings"].data[0].x) == res.models
    assert back.figures(style=True)["ratings"].layout.title.text.startswith("Style")


def test_same_seed_same_result_and_sandwich_option():
    data = _data()
    r1 = compute_leaderboard(data, ComputeParams(rounds=50, seed=9))
    r2 = compute_leaderboard(data, ComputeParams(rounds=50, seed=9, threads=1))
    assert r1.lower == r2.lower and r1.upper == r2.upper
    sw = compute_leaderboard(data, ComputeParams(ci="sandwich"))
    assert sw.rating == r1.rating and sw.lower != r1.lower


def test_anchor_reproduces_published_scale_convention():
    data = _data()
    res = compute_leaderboard(data, ComputeParams(rounds=30, anchor_model="model-2", anchor_rating=1114))
    i = res.models.index("model-2")
    assert res.rating[i] == 1114.0
    # every bootstrap round is anchored the same way, so the anchor's interval collapses to a point
    assert res.lower[i] == pytest.approx(1114.0) and res.upper[i] == pytest.approx(1114.0)
    with pytest.raises(ValueError, match="no counted battles"):
        compute_leaderboard(data, ComputeParams(rounds=30, anchor_model="nope"))


def test_degenerate_inputs_produce_a_result_without_nan_ratings():
    empty = BattleData([], aggregate([], [], [], 0), (np.zeros(0, int),) * 3)
    res = compute_leaderboard(empty, ComputeParams(rounds=10))
    assert res.models == [] and res.total_battles == 0
    one_sided = BattleData(["a", "b", "c"], aggregate([0, 0, 1, 2], [1, 2, 2, 1], [0, 0, 0, 1], 3))
    res = compute_leaderboard(one_sided, ComputeParams(rounds=20))
    assert all(math.isfinite(r) for r in res.rating)
    assert res.unrankable[res.models.index("a")] is True
    assert all(math.isnan(e) for e in res.online_elo)  # no sequence given
    json.dumps(res.to_json(), allow_nan=False)


def test_parameter_errors_are_specific():
    with pytest.raises(ValueError, match="bootstrap, sandwich, cluster-bootstrap, cluster-sandwich"):
        ComputeParams(ci="magic")
    with pytest.raises(ValueError, match="rounds >= 1"):
        ComputeParams(rounds=0)
