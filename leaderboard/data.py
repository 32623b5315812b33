"""Battle arrays and their aggregation into per-pair outcome counts.

Outcome codes (architecture contract): 0 = model_a wins, 1 = model_b wins, 2 = tie, 3 = tie (bothbad).
Both kinds of tie count as half a win for each side (the Chatbot Arena convention). The codes and names
are defined once, in :mod:`arena_app.domain` (a leaf module: no I/O, DB or web code).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from arena_app.domain import OUTCOME_CODES as OUTCOME_CODES  # re-exported: the leaderboard's input codes
from arena_app.domain import OUTCOME_NAMES as OUTCOME_NAMES
from arena_app.domain import Outcome

A_WINS, B_WINS, TIE, TIE_BOTHBAD = (o.code for o in Outcome)
# The score of model_a for each outcome code.
SCORE_A = np.array([1.0, 0.0, 0.5, 0.5])

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class PairCounts:
    """Outcome counts per unordered pair ``i < j`` (only pairs that met at least once).

    ``i_wins``/``j_wins``/``ties`` may be fractional only when built from weighted input.
    """

    n_models: int
    i: IntArray
    j: IntArray
    i_wins: FloatArray
    j_wins: FloatArray
    ties: FloatArray

    @property
    def total(self) -> FloatArray:
        return self.i_wins + self.j_wins + self.ties

    @property
    def i_score(self) -> FloatArray:
        """Wins of ``i`` with ties as half: the BT sufficient statistic."""
        return self.i_wins + 0.5 * self.ties

    @property
    def n_battles(self) -> float:
        return float(self.total.sum())

    def votes_per_model(self) -> FloatArray:
        tot = self.total
        out = np.bincount(self.i, tot, self.n_models) + np.bincount(self.j, tot, self.n_models)
        return np.asarray(out, dtype=np.float64)

    def with_counts(self, i_wins: ArrayLike, j_wins: ArrayLike, ties: ArrayLike) -> PairCounts:
        return PairCounts(
            self.n_models,
            self.i,
            self.j,
            np.asarray(i_wins, dtype=np.float64),
            np.asarray(j_wins, dtype=np.float64),
            np.asarray(ties, dtype=np.float64),
        )


def validate_battles(
    model_a: ArrayLike, model_b: ArrayLike, outcome: ArrayLike, n_models: int
) -> tuple[IntArray, IntArray, IntArray]:
    """Check shapes and ranges; raise ``ValueError`` with a specific message."""
    a = np.asarray(model_a, dtype=np.int64)
    b = np.asarray(model_b, dtype=np.int64)
    o = np.asarray(outcome, dtype=np.int64)
    if not (a.ndim == b.ndim == o.ndim == 1) or not (len(a) == len(b) == len(o)):
        raise ValueError("model_a, model_b and outcome must be 1-D arrays of equal length")
    if len(a):
        if min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= n_models:
            raise ValueError(f"model index out of range 0..{n_models - 1}")
        if o.min() < 0 or o.max() > 3:
            raise ValueError("outcome codes must be 0 (model_a), 1 (model_b), 2 (tie) or 3 (tie (bothbad))")
        if np.any(a == b):
            raise ValueError("a battle needs two different models (model_a == model_b found)")
    return a, b, o


def aggregate(
    model_a: ArrayLike,
    model_b: ArrayLike,
    outcome: ArrayLike,
    n_models: int,
    counts: ArrayLike | None = None,
) -> PairCounts:
    """Aggregate battles (or pre-aggregated rows with ``counts``) into :class:`PairCounts`."""
    a, b, o = validate_battles(model_a, model_b, outcome, n_models)
    w = np.ones(len(a)) if counts is None else np.asarray(counts, dtype=np.float64)
    swap = a > b
    lo = np.where(swap, b, a)
    hi = np.where(swap, a, b)
    # outcome seen from the lower index: 0 = lo wins, 1 = hi wins, 2 = tie
    oc = np.where(o >= 2, 2, np.where(swap, 1 - np.minimum(o, 1), o))
    key = (lo * n_models + hi) * 3 + oc
    if n_models <= 1000:  # dense bincount: at most 3M cells
        cells = np.bincount(key, w, minlength=n_models * n_models * 3).reshape(-1, 3)
        pair = np.flatnonzero(cells.sum(axis=1) > 0)
        c: FloatArray = np.asarray(cells[pair], dtype=np.float64)
    else:  # sparse: only the pairs that met
        pair, inv = np.unique(key // 3, return_inverse=True)
        c = np.zeros((len(pair), 3))
        np.add.at(c, (inv, key % 3), w)
    return PairCounts(
        n_models, pair // n_models, pair % n_models, c[:, 0].copy(), c[:, 1].copy(), c[:, 2].copy()
    )
