"""Ranking fragility: targets, results and their presentation (the search is in
:mod:`leaderboard.flip_search`).

The question (arXiv 2508.11847, "Dropping just a handful of preferences can change top LLM rankings"):
how few counted votes must go for the #1 model (or the top-K order, or the order of two named models) to
change? A :class:`Target` says which change; a :class:`FragilityResult` is a removal set verified by an
exact refit, with its groups ``{model_a, model_b, winner, count}``, its size and share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from leaderboard.bt import BTFit
from leaderboard.data import FloatArray, IntArray, validate_battles
from leaderboard.influence import CELL_OUTCOMES

TargetKind = Literal["top", "top_set", "pair"]


@dataclass(frozen=True)
class Target:
    """``top`` k: the ordered top-k list changes (k=1: the #1 model); ``top_set`` k: its membership
    changes; ``pair`` (a, b): the order of models a and b changes."""

    kind: TargetKind
    k: int = 1
    a: int = -1
    b: int = -1

    @classmethod
    def top(cls, k: int = 1) -> Target:
        if k < 1:
            raise ValueError("top-K needs K >= 1")
        return cls("top", k)

    @classmethod
    def top_set(cls, k: int) -> Target:
        if k < 1:
            raise ValueError("top-K needs K >= 1")
        return cls("top_set", k)

    @classmethod
    def pair(cls, a: int, b: int) -> Target:
        if a == b:
            raise ValueError("a pair target needs two different models")
        return cls("pair", 1, a, b)


class Check:
    """Whether a refit shows the target change, against the full-data order of the rankable models."""

    def __init__(self, target: Target, fit: BTFit) -> None:
        self.target = target
        self.rankable = fit.rankable.copy()
        self.order = _order(fit.theta, fit.rankable)
        if target.kind == "pair":
            for m in (target.a, target.b):
                if not 0 <= m < len(fit.theta):
                    raise ValueError(f"no model with index {m} (there are {len(fit.theta)})")
                if not fit.rankable[m]:
                    raise ValueError(f"model {m} is not rankable in this data (no finite rating)")
            hi, lo = (
                (target.a, target.b) if fit.theta[target.a] >= fit.theta[target.b] else (target.b, target.a)
            )
            self.pairs = [(hi, lo)]
        else:
            k = min(target.k, len(self.order))
            if len(self.order) < 2 or (target.kind == "top_set" and k >= len(self.order)):
                self.pairs = []
            elif target.kind == "top":
                pos = {int(m): r for r, m in enumerate(self.order)}
                self.pairs = [
                    (int(i), int(j)) for i in self.order[:k] for j in self.order if pos[int(j)] > pos[int(i)]
                ]
            else:
                self.pairs = [(int(i), int(j)) for i in self.order[:k] for j in self.order[k:]]

    def changed(self, fit: BTFit) -> bool:
        if not fit.rankable[self.rankable].all():
            return False
        t = self.target
        if t.kind == "pair":
            hi, lo = self.pairs[0]
            return bool(fit.theta[hi] < fit.theta[lo])
        new = _order(fit.theta, self.rankable)
        k = min(t.k, len(new))
        if t.kind == "top":
            return new[:k].tolist() != self.order[:k].tolist()
        return set(new[:k].tolist()) != set(self.order[:k].tolist())


def _order(theta: FloatArray, rankable: np.ndarray) -> IntArray:
    idx = np.flatnonzero(rankable)
    return np.asarray(idx[np.lexsort((idx, -theta[idx]))], dtype=np.int64)


@dataclass(frozen=True)
class FragilityResult:
    target: Target
    found: bool
    removed: FloatArray  # votes removed per cell (3P), cell o * P + p as in leaderboard.influence
    pair_i: IntArray  # the pairs of the cells (PairCounts.i / .j)
    pair_j: IntArray
    n_total: int
    theta_before: FloatArray
    theta_after: FloatArray | None  # exact refit without the removed votes (None when not found)
    driven_pair: tuple[int, int] | None  # (hi, lo): the pair whose gap the search closed
    predicted: int | None  # first-order (AMIP) vote count for that pair at the full fit
    refits: int

    @property
    def n_removed(self) -> int:
        return int(round(float(self.removed.sum()))) if self.found else 0

    @property
    def share(self) -> float:
        return self.n_removed / self.n_total if self.n_total else 0.0

    def cells(self) -> list[tuple[int, int, int, int]]:
        """``(i, j, outcome, count)`` per removed cell; outcome 0 = i wins, 1 = j wins, 2 = tie."""
        p = len(self.pair_i)
        return [
            (int(self.pair_i[k % p]), int(self.pair_j[k % p]), k // p, int(round(float(self.removed[k]))))
            for k in np.flatnonzero(self.removed > 0).tolist()
        ]

    def groups(self, models: list[str]) -> list[dict[str, Any]]:
        """``{"model_a", "model_b", "winner", "count"}``; ``winner`` "tie" stands for either kind of tie."""
        return [
            {"model_a": models[i], "model_b": models[j], "winner": CELL_OUTCOMES[o], "count": c}
            for i, j, o, c in self.cells()
        ]


def select_votes(
    model_a: ArrayLike, model_b: ArrayLike, outcome: ArrayLike, n_models: int, result: FragilityResult
) -> IntArray:
    """Row indices of battles realising ``result``'s removed cells: for each cell, its first ``count``
    rows in the given order (pass rows in vote-id order to get the earliest votes). Any rows of a cell
    give the same fit; "tie" cells take either kind of tie."""
    picked = select_votes_by_cell(model_a, model_b, outcome, n_models, result)
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


def select_votes_by_cell(
    model_a: ArrayLike, model_b: ArrayLike, outcome: ArrayLike, n_models: int, result: FragilityResult
) -> list[IntArray]:
    """:func:`select_votes` cell by cell: one array of row indices per entry of ``result.cells()`` (and of
    ``result.groups(...)``), in that order."""
    a, b, o = validate_battles(model_a, model_b, outcome, n_models)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    oc = np.where(o >= 2, 2, np.where(a > b, 1 - np.minimum(o, 1), o))  # outcome seen from lo
    picked: list[IntArray] = []
    for i, j, cell_outcome, count in result.cells():
        rows = np.flatnonzero((lo == i) & (hi == j) & (oc == cell_outcome))
        if len(rows) < count:
            raise ValueError("these battles do not contain the removed votes (different data?)")
        picked.append(np.asarray(rows[:count], dtype=np.int64))
    return picked


def fragility_line(result: FragilityResult, models: list[str]) -> str:
    """The leaderboard's one-liner, e.g. "The #1 spot changes if 14 of 1,670,000 votes (0.0008%) are
    removed (model-x would overtake model-y)."."""
    t = result.target
    what = {
        "top": "The #1 spot" if t.k == 1 else f"The top-{t.k} order",
        "top_set": f"The top-{t.k} set",
        "pair": f"The order of {models[t.a]} and {models[t.b]}" if t.kind == "pair" else "",
    }[t.kind]
    if not result.found:
        return (
            f"{what} did not change in this search (removing up to its cap of the {result.n_total:,} votes)."
        )
    line = (
        f"{what} changes if {result.n_removed:,} of {result.n_total:,} votes ({result.share:.4%}) are removed"
    )
    if result.driven_pair is not None and result.theta_after is not None:
        hi, lo = result.driven_pair
        if result.theta_after[lo] > result.theta_after[hi]:
            line += f" ({models[lo]} would overtake {models[hi]})"
    return line + "."
