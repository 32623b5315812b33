"""Ranking fragility search: a small set of counted votes whose removal changes the ranking, verified by
exact refits (targets and results: :mod:`leaderboard.fragility`).

The question (arXiv 2508.11847, "Dropping just a handful of preferences can change top LLM rankings"):
how few votes must go for the #1 model (or the top-K order, or the order of two named models) to change?

Method (approximate to search, exact to verify):

1. A target change is reduced to pairs: the top-K order changes exactly when some model ranked within the
   top K is overtaken by a model ranked below it (the top-K *set* when a model outside overtakes one
   inside; a named pair by itself). Candidate pairs are tried in the order of their predicted cost.
2. For a pair ``(hi, lo)`` with gap ``g = theta_hi - theta_lo > 0``, the first-order influence of one
   vote of every cell on ``g`` (:func:`leaderboard.influence.removal_effects`) ranks the cells; votes
   are taken from the most negative cells until the predicted change covers ``g`` (the AMIP set).
3. The counts without those votes are refitted exactly (Newton, warm start). If the target has not
   changed, the influences are recomputed *at the refit* for the remaining gap and more votes are
   taken (each cell's prediction with its one-step factor, so a rarely-met pair is not overshot);
   repeat. Once it has changed, the set is shrunk: votes are put back (least useful first, in batches
   sized by the predicted surplus, then one at a time) as long as an exact refit still shows the change.
4. Local improvement: put back all votes of one cell of the set, regrow from there with the influences
   at that point, shrink; keep the result when it is smaller; repeat until no cell helps.

Every reported set is a verified, exact fact; "not found" only means this search found none within the
budget.

Removals never take the last vote by which one model scored against another (see
:class:`leaderboard.influence.Room`): the MLE stays finite and the same models stay rankable, so a
"change" is never an artefact of a model's rating running off to infinity. Only models rankable in the
full-data fit take part in the ranking.

:func:`greedy_flip` is the reference it is compared with: remove one vote at a time (the one with the
largest one-step or exact effect on the gap), refit, repeat.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from threadpoolctl import threadpool_limits

from leaderboard.bt import BTFit, fit_bt
from leaderboard.data import FloatArray, IntArray, PairCounts
from leaderboard.fragility import Check, FragilityResult, Target
from leaderboard.influence import (
    Room,
    cell_counts,
    cell_leverage,
    inverse_hessian,
    removal_effects,
    take_votes,
    with_cell_counts,
)


def find_flip(
    pc: PairCounts,
    target: Target,
    *,
    fit: BTFit | None = None,
    max_votes: int | None = None,
    max_pairs: int | None = None,
    prune: float = 3.0,
    max_rounds: int = 50,
) -> FragilityResult:
    """The smallest verified set this search finds (see the module docstring).

    ``max_votes`` caps the set (default: 5% of the votes; the growing set may overshoot it up to twice
    before it is shrunk); ``max_pairs`` caps how many candidate pairs are searched (in the order of
    their first-order predicted cost); a pair whose prediction exceeds ``prune`` times the best set
    found so far is skipped. Runs with one BLAS thread: the m x m solves are small, and threaded BLAS
    on a busy machine made each refit 60x slower (measured).
    """
    with threadpool_limits(1, user_api="blas"):
        return _find_flip(
            pc, target, fit=fit, max_votes=max_votes, max_pairs=max_pairs, prune=prune, max_rounds=max_rounds
        )


def _find_flip(
    pc: PairCounts,
    target: Target,
    *,
    fit: BTFit | None = None,
    max_votes: int | None = None,
    max_pairs: int | None = None,
    prune: float = 3.0,
    max_rounds: int = 50,
) -> FragilityResult:
    fit0 = fit_bt(pc) if fit is None else fit
    check = Check(target, fit0)
    counts0 = cell_counts(pc)
    n_total = int(round(float(counts0.sum())))
    budget = max(1, int(0.05 * n_total)) if max_votes is None else max_votes
    h_inv = inverse_hessian(pc, fit0)
    ranked = []
    for hi, lo in check.pairs:
        gap = float(fit0.theta[hi] - fit0.theta[lo])
        eff = removal_effects(pc, fit0, h_inv, hi, lo)
        ranked.append((float(take_votes(eff, counts0, counts0, gap).sum()), hi, lo))
    ranked.sort()
    if max_pairs is not None:
        ranked = ranked[:max_pairs]
    best: tuple[FloatArray, BTFit, tuple[int, int], int] | None = None
    refits = 0
    for predicted, hi, lo in ranked:
        if best is not None and predicted > prune * float(best[0].sum()):
            continue
        limit = budget if best is None else int(best[0].sum()) - 1
        got, n = _search_pair(pc, fit0, check, hi, lo, limit, min(2 * budget + 10, n_total), max_rounds)
        refits += n
        if got is not None:
            best = (got[0], got[1], (hi, lo), int(predicted))
    if best is None:
        return FragilityResult(
            target, False, np.zeros_like(counts0), pc.i, pc.j, n_total, fit0.theta, None, None, None, refits
        )
    return FragilityResult(
        target, True, best[0], pc.i, pc.j, n_total, fit0.theta, best[1].theta, best[2], best[3], refits
    )


def _refit(pc: PairCounts, counts: FloatArray, start: BTFit) -> BTFit:
    return fit_bt(with_cell_counts(pc, counts), ridge=start.ridge, theta0=start.theta)


def _search_pair(
    pc: PairCounts, fit0: BTFit, check: Check, hi: int, lo: int, limit: int, budget: int, max_rounds: int
) -> tuple[tuple[FloatArray, BTFit] | None, int]:
    """Grow the set round by round (influences at each refit) until the target changes, shrink it, then
    improve it locally; ``None`` unless the result has at most ``limit`` votes. Growth may overshoot
    ``limit`` (up to ``budget``): shrinking often brings an overshooting set back under it."""
    got, refits = _grow(pc, check, np.zeros(3 * len(pc.i)), fit0, hi, lo, budget, max_rounds)
    if got is None:
        return None, refits
    removed, fit, n = _shrink(pc, check, got[0], got[1], hi, lo)
    refits += n
    removed, fit, n = _improve(pc, check, removed, fit, hi, lo, max_rounds)
    refits += n
    if removed.sum() > limit:
        return None, refits
    return (removed, fit), refits


def _grow(
    pc: PairCounts,
    check: Check,
    removed: FloatArray,
    fit: BTFit,
    hi: int,
    lo: int,
    budget: float,
    rounds: int,
) -> tuple[tuple[FloatArray, BTFit] | None, int]:
    counts0 = cell_counts(pc)
    removed = removed.copy()
    refits = 0
    for _ in range(rounds):
        cur = with_cell_counts(pc, counts0 - removed)
        gap = float(fit.theta[hi] - fit.theta[lo])
        h_inv = inverse_hessian(cur, fit)
        eff = removal_effects(cur, fit, h_inv, hi, lo)
        take = take_votes(
            eff,
            counts0 - removed,
            counts0,
            max(gap, 1e-12),
            leverage=cell_leverage(cur, fit, h_inv),
            limit=budget - removed.sum(),
        )
        if take.sum() == 0:
            return None, refits
        removed += take
        fit = _refit(pc, counts0 - removed, fit)
        refits += 1
        if check.changed(fit):
            return (removed, fit), refits
    return None, refits


def _improve(
    pc: PairCounts, check: Check, removed: FloatArray, fit: BTFit, hi: int, lo: int, rounds: int
) -> tuple[FloatArray, BTFit, int]:
    """Local search: put back all votes of one cell of the set (least useful cell first), regrow from
    there with the influences at that point, shrink; keep the result when it is smaller. The growth is
    capped below the current size, so an attempt that cannot win stops early."""
    counts0 = cell_counts(pc)
    refits = 0
    improved = True
    while improved:
        improved = False
        cur = with_cell_counts(pc, counts0 - removed)
        eff = removal_effects(cur, fit, inverse_hessian(cur, fit), hi, lo)
        cand = np.flatnonzero(removed > 0)
        if len(cand) < 2:
            break
        for k in cand[np.argsort(-eff[cand], kind="stable")].tolist():
            start = removed.copy()
            start[k] = 0.0
            s_fit = _refit(pc, counts0 - start, fit)
            refits += 1
            # regrowth may overshoot a little: the shrink afterwards decides
            got, n = _grow(pc, check, start, s_fit, hi, lo, removed.sum() + removed[k], rounds)
            refits += n
            if got is None:
                continue
            new, n_fit, n = _shrink(pc, check, got[0], got[1], hi, lo)
            refits += n
            if new.sum() < removed.sum():
                removed, fit, improved = new, n_fit, True
                break
    return removed, fit, refits


def _shrink(
    pc: PairCounts, check: Check, removed: FloatArray, fit: BTFit, hi: int, lo: int
) -> tuple[FloatArray, BTFit, int]:
    """Put votes back, least useful first, while an exact refit still shows the change. Votes go back in
    batches sized by the first-order estimate of the surplus (halved on failure), so a large overshoot
    costs O(log) refits, not one per vote; the last pass tries every single vote."""
    counts0 = cell_counts(pc)
    refits = 0
    while True:
        cur = with_cell_counts(pc, counts0 - removed)
        eff = removal_effects(cur, fit, inverse_hessian(cur, fit), hi, lo)
        cand = np.flatnonzero(removed > 0)
        cand = cand[np.argsort(-eff[cand], kind="stable")]  # least negative effect first
        surplus = float(fit.theta[lo] - fit.theta[hi])  # > 0: past the flip by this much (driven pair)
        per_vote = float(np.mean(-eff[cand])) if len(cand) else 0.0
        batch = int(surplus / per_vote) if surplus > 0 and per_vote > 0 else 1
        accepted = False
        while batch > 1:
            trial = _put_back(removed, cand, batch)
            t_fit = _refit(pc, counts0 - trial, fit)
            refits += 1
            if check.changed(t_fit):
                removed, fit, accepted = trial, t_fit, True
                break
            batch //= 2
        if accepted:
            continue
        for k in cand.tolist():
            trial = removed.copy()
            trial[k] -= 1
            t_fit = _refit(pc, counts0 - trial, fit)
            refits += 1
            if check.changed(t_fit):
                removed, fit, accepted = trial, t_fit, True
                break
        if not accepted:
            return removed, fit, refits


def _put_back(removed: FloatArray, order: IntArray, n: int) -> FloatArray:
    """``removed`` with ``n`` votes restored, taken from the cells in ``order``."""
    trial = removed.copy()
    for k in order.tolist():
        x = min(float(trial[k]), float(n))
        trial[k] -= x
        n -= int(x)
        if n <= 0:
            break
    return trial


def greedy_flip(
    pc: PairCounts,
    target: Target,
    *,
    effect: Literal["one-step", "exact"] = "one-step",
    max_votes: int | None = None,
) -> FragilityResult:
    """Reference search: for every candidate pair, remove one vote at a time (the vote with the most
    negative one-step or exact effect on the pair's gap, within :class:`Room`), refit, until the target
    changes; the smallest set over the pairs. ``effect="exact"`` refits once per cell per step: small
    data only."""
    with threadpool_limits(1, user_api="blas"):
        return _greedy_flip(pc, target, effect=effect, max_votes=max_votes)


def _greedy_flip(
    pc: PairCounts,
    target: Target,
    *,
    effect: Literal["one-step", "exact"] = "one-step",
    max_votes: int | None = None,
) -> FragilityResult:
    fit0 = fit_bt(pc)
    check = Check(target, fit0)
    counts0 = cell_counts(pc)
    n_total = int(round(float(counts0.sum())))
    budget = max(1, int(0.05 * n_total)) if max_votes is None else max_votes
    best: tuple[FloatArray, BTFit, tuple[int, int]] | None = None
    refits = 0
    for hi, lo in check.pairs:
        limit = budget if best is None else int(best[0].sum()) - 1
        removed = np.zeros_like(counts0)
        fit = fit0
        while removed.sum() < limit:
            cur = with_cell_counts(pc, counts0 - removed)
            room = Room(counts0 - removed, counts0).all()
            if effect == "exact":
                eff = np.full(len(counts0), np.inf)
                for k in np.flatnonzero(room > 0).tolist():
                    trial = removed.copy()
                    trial[k] += 1
                    t_fit = _refit(pc, counts0 - trial, fit)
                    refits += 1
                    eff[k] = (t_fit.theta[hi] - t_fit.theta[lo]) - (fit.theta[hi] - fit.theta[lo])
            else:
                eff = removal_effects(cur, fit, inverse_hessian(cur, fit), hi, lo, one_step=True)
                eff = np.where(room > 0, eff, np.inf)
            k = int(np.argmin(eff))
            if not np.isfinite(eff[k]) or eff[k] >= 0:
                break
            removed[k] += 1
            fit = _refit(pc, counts0 - removed, fit)
            refits += 1
            if check.changed(fit):
                best = (removed.copy(), fit, (hi, lo))
                break
    if best is None:
        return FragilityResult(
            target, False, np.zeros_like(counts0), pc.i, pc.j, n_total, fit0.theta, None, None, None, refits
        )
    return FragilityResult(
        target, True, best[0], pc.i, pc.j, n_total, fit0.theta, best[1].theta, best[2], None, refits
    )
