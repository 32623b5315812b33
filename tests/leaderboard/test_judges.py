"""Per-judge views: votes-per-judge distribution, top judges' share, the leave-top-judges-out shift."""

from __future__ import annotations

import numpy as np
import pytest

from leaderboard.bt import Identification, fit_bt
from leaderboard.data import aggregate
from leaderboard.judges import cluster_summary, leave_out_heaviest
from tests.leaderboard.test_elo_bt import simulate


def test_summary_closed_form():
    # 100 judges: one with 500 votes, nine with 50, ninety with 1
    judge = np.concatenate([np.zeros(500), np.repeat(np.arange(1, 10), 50), np.arange(10, 100)]).astype(int)
    s = cluster_summary(judge)
    total = 500 + 9 * 50 + 90
    assert (s.n_votes, s.n_clusters, s.max) == (total, 100, 500)
    assert s.mean == pytest.approx(total / 100)
    assert s.median == 1.0
    assert s.top_count == 1 and s.top_share == pytest.approx(500 / total)  # top 1% of 100 = 1 judge
    assert s.top10_share == pytest.approx((500 + 450) / total)
    assert dict((label, (c, v)) for label, c, v in s.buckets) == {
        "1": (90, 90),
        "2-5": (0, 0),
        "6-20": (0, 0),
        "21-100": (9, 450),
        "101-1000": (1, 500),
        "1001+": (0, 0),
    }
    # weights (e.g. pre-aggregated rows) count like repeated votes
    w = cluster_summary([3, 4], counts=[10, 30])
    assert w.n_votes == 40 and w.top_share == pytest.approx(0.75)
    assert cluster_summary([]).n_clusters == 0
    with pytest.raises(ValueError, match="top_fraction"):
        cluster_summary([1], top_fraction=0)


def test_leaving_out_a_spammer_moves_its_favourite_and_matches_an_independent_refit():
    a, b, o, _ = simulate(5, 3000, seed=2, tie_rate=0.0)
    judge = np.random.default_rng(0).integers(1, 300, len(a))  # 299 ordinary judges, ~10 votes each
    # judge 0 casts 400 votes, always for model 4 (whichever side it is on)
    rng = np.random.default_rng(1)
    sa = np.full(400, 4)
    sb = rng.integers(0, 4, 400)
    flip = rng.random(400) < 0.5
    sa, sb = np.where(flip, sb, sa), np.where(flip, sa, sb)
    so = np.where(sa == 4, 0, 1)
    a2, b2, o2 = np.concatenate([a, sa]), np.concatenate([b, sb]), np.concatenate([o, so])
    j2 = np.concatenate([judge, np.zeros(400, dtype=int)])
    shift = leave_out_heaviest(a2, b2, o2, 5, j2, fraction=0.01)  # ceil(1% of 300) = 3 heaviest judges
    assert shift.left_out_clusters == 3
    heavy = np.argsort(-np.bincount(j2), kind="stable")[:3]
    assert 0 in heavy
    keep = ~np.isin(j2, heavy)
    ref = fit_bt(aggregate(a2[keep], b2[keep], o2[keep], 5))
    full = fit_bt(aggregate(a2, b2, o2, 5))
    ident = Identification.make(np.ones(5, bool))
    np.testing.assert_allclose(shift.shift, ident.ratings(ref.theta) - ident.ratings(full.theta), atol=1e-7)
    assert shift.left_out_votes == int((~keep).sum())
    assert np.argmax(np.abs(shift.shift)) == 4 and shift.shift[4] < -30  # the spammer's favourite drops
    line = shift.line([f"m{k}" for k in range(5)])
    assert line.startswith("Leaving out the top 1% of judges (3 judges, ")
    assert f"at most {shift.max_abs_shift:.1f} points" in line


def test_ordinary_heavy_judges_barely_move_the_ratings():
    a, b, o, _ = simulate(6, 20_000, seed=5)
    p = np.arange(1, 5001) ** -0.7  # skewed activity (top 1% cast ~20% of the votes), every judge alike
    judge = np.random.default_rng(3).choice(5000, len(a), p=p / p.sum())
    shift = leave_out_heaviest(a, b, o, 6, judge)
    assert shift.left_out_clusters == 45 and 0.15 < shift.left_out_votes / len(a) < 0.25
    assert shift.top_all == shift.top_without
    # measured 1.9 points; the interval half-width at these counts is ~10 points
    assert shift.max_abs_shift < 6
    assert "#1 unchanged" in shift.line([f"m{k}" for k in range(6)])


def test_leave_out_validates_its_input():
    with pytest.raises(ValueError, match="fraction"):
        leave_out_heaviest([0], [1], [0], 2, [0], fraction=1.0)
    with pytest.raises(ValueError, match="one id per battle"):
        leave_out_heaviest([0, 1], [1, 0], [0, 0], 2, [0])
