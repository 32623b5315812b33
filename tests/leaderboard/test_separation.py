"""Separation in the style-controlled fit: the LP check, and the floored intervals on tiny data."""

from __future__ import annotations

import numpy as np

from leaderboard.separation import floor_intervals, is_separated


def _arrays(a: list[int], b: list[int], o: list[float], x: list[list[float]]):  # type: ignore[no-untyped-def]
    return (
        np.array(a, dtype=np.int64),
        np.array(b, dtype=np.int64),
        np.array(o, dtype=np.float64),
        np.array(x, dtype=np.float64).reshape(len(a), -1),
    )


def test_three_votes_won_by_the_longer_answer_are_separated() -> None:
    # model 0 beats 1, 1 beats 0, 0 beats 1: the ratings alone do not separate them, but every winner
    # wrote the longer answer, so the length coefficient can grow without bound
    a, b, o, x = _arrays([0, 0, 0], [1, 1, 1], [1.0, 0.0, 1.0], [[1.0], [-1.0], [1.0]])
    assert is_separated(a, b, o, 2, x)


def test_mixed_outcomes_with_overlapping_style_are_not_separated() -> None:
    # the same pair both ways with the same style difference, and ties: no direction explains it all
    a, b, o, x = _arrays(
        [0, 0, 0, 0, 1, 1],
        [1, 1, 1, 1, 0, 0],
        [1.0, 0.0, 1.0, 0.0, 0.5, 1.0],
        [[1.0], [1.0], [-1.0], [-1.0], [0.0], [0.5]],
    )
    assert not is_separated(a, b, o, 2, x)


def test_ratings_alone_can_separate_and_all_ties_cannot() -> None:
    a, b, o, x = _arrays([0, 1], [1, 2], [1.0, 1.0], [[0.0], [0.0]])  # 0 > 1 > 2, never contradicted
    assert is_separated(a, b, o, 3, x)
    a, b, o, x = _arrays([0, 1], [1, 0], [0.5, 0.5], [[1.0], [2.0]])
    assert not is_separated(a, b, o, 2, x)
    empty = np.zeros(0, dtype=np.int64)
    assert not is_separated(empty, empty, np.zeros(0), 2, np.zeros((0, 1)))


def test_floor_widens_to_the_plain_width_and_keeps_wider_style_sides() -> None:
    rating = np.array([1409.0, 591.0])
    lower, upper = rating - 217.0, rating + 217.0
    plain = (np.array([1050.0, 950.0]), np.array([284.0, 184.0]), np.array([1816.0, 1716.0]))  # +-766
    lo, hi = floor_intervals(rating, lower, upper, plain)
    assert np.allclose(hi - rating, 766.0) and np.allclose(rating - lo, 766.0)
    wide_lo, wide_hi = floor_intervals(rating, rating - 900.0, rating + 900.0, plain)
    assert np.allclose(wide_hi - rating, 900.0) and np.allclose(rating - wide_lo, 900.0)
    inf_plain = (plain[0], np.array([-np.inf, 184.0]), np.array([np.inf, 1716.0]))
    lo, hi = floor_intervals(rating, lower, upper, inf_plain)
    assert lo[0] == rating[0] - 217.0 and hi[1] - rating[1] == 766.0


def test_style_control_on_three_votes_is_never_narrower_than_the_plain_fit() -> None:
    """The issue's case: 3 votes, style control ranked 1409 vs 591 at +-217 against the plain +-766."""
    from leaderboard.compute import BattleData, ComputeParams, StyleRows, compute_leaderboard
    from leaderboard.data import aggregate
    from leaderboard.result import LeaderboardResult

    a = np.array([0, 0, 1], dtype=np.int64)
    b = np.array([1, 1, 0], dtype=np.int64)
    o = np.array([0, 1, 0], dtype=np.int64)  # codes: 0 A won, 1 B won; the longer answer won every time
    fa = np.array([[300, 0, 0, 0], [20, 0, 0, 0], [310, 0, 0, 0]], dtype=np.float64)
    fb = np.array([[25, 0, 0, 0], [280, 0, 0, 0], [30, 0, 0, 0]], dtype=np.float64)
    data = BattleData(["x", "y"], aggregate(a, b, o, 2), (a, b, o), StyleRows(a, b, o, fa, fb))
    res = compute_leaderboard(data, ComputeParams(rounds=50, seed=1, style_control=True))
    assert res.style is not None and res.style.floored
    for i in range(2):
        plain = (res.rating[i] - res.lower[i], res.upper[i] - res.rating[i])
        style = (res.style.rating[i] - res.style.lower[i], res.style.upper[i] - res.style.rating[i])
        assert style[0] >= plain[0] - 1e-6 and style[1] >= plain[1] - 1e-6, (plain, style)
    back = LeaderboardResult.from_json(res.to_json())
    assert back.style is not None and back.style.floored


def test_style_control_on_plenty_of_mixed_votes_is_not_floored() -> None:
    from leaderboard.compute import ComputeParams, compute_leaderboard
    from tests.leaderboard.test_compute import _data

    res = compute_leaderboard(_data(style=True), ComputeParams(rounds=20, seed=3, style_control=True))
    assert res.style is not None and not res.style.floored
