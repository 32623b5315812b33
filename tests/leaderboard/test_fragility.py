"""Ranking fragility: influence against exact leave-out refits; verified flips really flip (refitted here
from the battle rows); the search is never larger than the one-vote-at-a-time greedy search."""

from __future__ import annotations

import numpy as np
import pytest

from leaderboard.bt import fit_bt, rankable_models
from leaderboard.data import aggregate
from leaderboard.flip_search import find_flip, greedy_flip
from leaderboard.fragility import FragilityResult, Target, fragility_line, select_votes
from leaderboard.influence import (
    Room,
    cell_counts,
    inverse_hessian,
    removal_effects,
    take_votes,
    with_cell_counts,
)
from tests.leaderboard.test_elo_bt import simulate


def _exact_removal_effects(pc, fit, a, b, c=1):
    """Change of theta_a - theta_b when c votes of each cell are removed, by refitting."""
    counts = cell_counts(pc)
    out = np.full(len(counts), np.nan)
    for k in np.flatnonzero(counts >= c):
        trial = counts.copy()
        trial[k] -= c
        f = fit_bt(with_cell_counts(pc, trial), ridge=fit.ridge)
        out[k] = (f.theta[a] - f.theta[b]) - (fit.theta[a] - fit.theta[b])
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_first_order_influence_matches_exact_leave_one_out_refits(seed):
    a, b, o, _ = simulate(6, 800, seed=seed)
    pc = aggregate(a, b, o, 6)
    fit = fit_bt(pc)
    assert fit.ridge == 0
    h_inv = inverse_hessian(pc, fit)
    for x, y in [(0, 1), (2, 5), (4, 3)]:
        exact = _exact_removal_effects(pc, fit, x, y)
        ok = np.isfinite(exact)
        first = removal_effects(pc, fit, h_inv, x, y)
        one_step = removal_effects(pc, fit, h_inv, x, y, one_step=True)
        scale = np.max(np.abs(exact[ok]))
        # one vote of 800 is a small perturbation: first order within 5% of the largest effect
        assert np.max(np.abs(first[ok] - exact[ok])) <= 0.05 * scale
        # the one-step (Sherman-Morrison) estimate is closer still, and never worse by much per cell
        assert np.mean(np.abs(one_step[ok] - exact[ok])) < np.mean(np.abs(first[ok] - exact[ok]))
        assert np.max(np.abs(one_step[ok] - exact[ok])) <= 0.02 * scale
        # signs agree wherever the effect is not negligible
        big = ok & (np.abs(exact) > 0.05 * scale)
        assert np.all(np.sign(first[big]) == np.sign(exact[big]))


def test_influence_closed_form_for_two_models():
    # two models: gap = log(w/l) exactly, so removing one win changes it by log((w-1)/l) - log(w/l)
    w, lo = 30, 20
    pc = aggregate([0] * w + [1] * lo, [1] * w + [0] * lo, [0] * (w + lo), 2)
    fit = fit_bt(pc)
    eff = removal_effects(pc, fit, inverse_hessian(pc, fit), 0, 1)  # cells: [0 wins, 1 wins, ties]
    exact_win, exact_loss = np.log((w - 1) / lo) - np.log(w / lo), np.log(w / (lo - 1)) - np.log(w / lo)
    # first order: -1/w and +1/l (d log(w/l) = dw/w - dl/l)
    assert eff[0] == pytest.approx(-1 / w, rel=1e-9)
    assert eff[1] == pytest.approx(1 / lo, rel=1e-9)
    assert abs(eff[0] - exact_win) < 1e-3 and abs(eff[1] - exact_loss) < 2e-3


def _refit_without(a, b, o, m, rows):
    keep = np.ones(len(a), dtype=bool)
    keep[rows] = False
    return fit_bt(aggregate(a[keep], b[keep], o[keep], m)), keep


def _order(theta, rankable):
    idx = np.flatnonzero(rankable)
    return idx[np.argsort(-theta[idx], kind="stable")].tolist()


@pytest.mark.parametrize(
    "target", [Target.top(1), Target.top(3), Target.top_set(2), Target.pair(1, 2)], ids=lambda t: t.kind
)
@pytest.mark.parametrize("seed", [4, 5])
def test_a_verified_flip_really_flips_when_refitted_from_the_battle_rows(target, seed):
    m = 7
    a, b, o, _ = simulate(m, 1500, seed=seed, spread=0.2)
    pc = aggregate(a, b, o, m)
    full = fit_bt(pc)
    res = find_flip(pc, target)
    assert res.found and res.n_removed >= 1
    rows = select_votes(a, b, o, m, res)
    assert len(rows) == res.n_removed
    refit, keep = _refit_without(a, b, o, m, rows)
    np.testing.assert_allclose(refit.theta, res.theta_after, atol=1e-7)
    assert refit.rankable.tolist() == full.rankable.tolist()  # no model ran off to infinity
    before, after = _order(full.theta, full.rankable), _order(refit.theta, refit.rankable)
    if target.kind == "top":
        assert after[: target.k] != before[: target.k]
    elif target.kind == "top_set":
        assert set(after[: target.k]) != set(before[: target.k])
    else:
        hi, lo = (1, 2) if full.theta[1] > full.theta[2] else (2, 1)
        assert refit.theta[lo] > refit.theta[hi]
    # groups say which votes: they add up to the removed rows
    groups = res.groups([f"m{k}" for k in range(m)])
    assert sum(g["count"] for g in groups) == res.n_removed
    assert {g["winner"] for g in groups} <= {"model_a", "model_b", "tie"}
    assert res.share == pytest.approx(res.n_removed / len(a))
    # and the set is minimal: putting back any single removed vote undoes the change
    for k in np.flatnonzero(res.removed > 0):
        trial = res.removed.copy()
        trial[k] -= 1
        f = fit_bt(with_cell_counts(pc, cell_counts(pc) - trial))
        after_k = _order(f.theta, f.rankable)
        if target.kind == "top":
            assert after_k[: target.k] == before[: target.k]
        elif target.kind == "top_set":
            assert set(after_k[: target.k]) == set(before[: target.k])
        else:
            assert f.theta[hi] > f.theta[lo]


def test_search_is_never_larger_than_the_greedy_search_on_random_small_arenas():
    compared = 0
    for seed in range(12):
        rng = np.random.default_rng(500 + seed)
        m = int(rng.integers(4, 7))
        n = int(rng.integers(150, 450))
        tie_rate = float(rng.choice([0.0, 0.2]))
        a, b, o, _ = simulate(m, n, seed=500 + seed, spread=float(rng.choice([0.3, 0.8])), tie_rate=tie_rate)
        pc = aggregate(a, b, o, m)
        if rankable_models(pc)[1] != 1:
            continue
        for target in (Target.top(1), Target.top(2)):
            ours = find_flip(pc, target)
            for effect in ("one-step", "exact"):
                greedy = greedy_flip(pc, target, effect=effect)
                if greedy.found:
                    assert ours.found
                    assert ours.n_removed <= greedy.n_removed, (seed, target, effect)
                    compared += 1
    assert compared >= 30


def test_removals_keep_every_scored_against_edge():
    # model 2 beats model 0 exactly once: removing that single vote would be the cheapest way to "drop"
    # it, but it would leave model 2 without a win against the others' component (no finite MLE)
    a = [0] * 40 + [1] * 30 + [2] + [0] * 3 + [1] * 5 + [2] * 4
    b = [1] * 40 + [0] * 30 + [0] + [2] * 3 + [2] * 5 + [1] * 4
    o = [0] * 40 + [0] * 30 + [0] + [0] * 3 + [0] * 5 + [0] * 4
    pc = aggregate(a, b, o, 3)
    counts = cell_counts(pc)
    room = Room(counts, counts).all()
    p = len(pc.i)
    k = int(np.flatnonzero((pc.i == 0) & (pc.j == 2))[0])
    assert room[1 * p + k] == 0  # 2's only win over 0 cannot go
    eff = np.zeros_like(counts)
    eff[1 * p + k] = -1.0
    assert take_votes(eff, counts, counts, 5.0).sum() == 0
    res = find_flip(pc, Target.top(1))
    if res.found:
        assert fit_bt(with_cell_counts(pc, counts - res.removed)).rankable.all()


def test_not_found_within_budget_and_bad_targets():
    a, b, o, _ = simulate(5, 2000, seed=9, spread=2.0)
    pc = aggregate(a, b, o, 5)
    res = find_flip(pc, Target.top(1), max_votes=1)
    assert isinstance(res, FragilityResult)
    assert not res.found and res.n_removed == 0 and res.groups(list("abcde")) == []
    assert "did not change" in fragility_line(res, list("abcde"))
    with pytest.raises(ValueError, match="two different models"):
        Target.pair(1, 1)
    with pytest.raises(ValueError, match="K >= 1"):
        Target.top(0)
    # a model without a finite rating cannot be a pair target
    pc2 = aggregate([0, 0, 1, 2], [1, 2, 2, 1], [0, 0, 0, 0], 3)  # model 0 never lost
    with pytest.raises(ValueError, match="not rankable"):
        find_flip(pc2, Target.pair(0, 1))
    with pytest.raises(ValueError, match="no model with index 7"):
        find_flip(pc2, Target.pair(1, 7))
    res = find_flip(pc, Target.pair(0, 1))
    assert fragility_line(res, list("abcde")).startswith("The order of a and b ")


def test_one_liner_names_the_change():
    a, b, o, _ = simulate(6, 1200, seed=3, spread=0.2)
    pc = aggregate(a, b, o, 6)
    res = find_flip(pc, Target.top(1))
    models = [f"model-{k}" for k in range(6)]
    line = fragility_line(res, models)
    assert line.startswith(f"The #1 spot changes if {res.n_removed:,} of 1,200 votes")
    assert "would overtake" in line


def test_select_votes_rejects_other_data():
    a, b, o, _ = simulate(5, 600, seed=1, spread=0.3)
    pc = aggregate(a, b, o, 5)
    res = find_flip(pc, Target.top(1))
    assert res.found
    with pytest.raises(ValueError, match="do not contain"):
        select_votes(a[:5], b[:5], o[:5], 5, res)
