"""Pairwise tables: empirical win fraction, battle counts, predicted win rate, average win rate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from leaderboard.data import FloatArray, PairCounts


@dataclass(frozen=True)
class PairwiseTables:
    order: NDArray[np.int64]  # model indices, rows/columns of the tables
    win_fraction: FloatArray  # [r, c]: wins of r over c / decisive battles between them (ties left out)
    battle_count: FloatArray  # [r, c]: battles between r and c, both orders and ties included
    predicted: FloatArray  # [r, c]: P(r beats c) from the ratings (no ties)
    average_win_rate: FloatArray  # mean of predicted[r, c] over c != r (uniform opponent, no ties)


def pairwise_tables(
    pc: PairCounts,
    ratings: FloatArray,
    *,
    order: NDArray[np.int64] | None = None,
    base: float = 10.0,
    scale: float = 400.0,
) -> PairwiseTables:
    m = pc.n_models
    if order is None:
        order = np.argsort(-ratings, kind="stable")
    wins = np.zeros((m, m))
    wins[pc.i, pc.j] = pc.i_wins
    wins[pc.j, pc.i] = pc.j_wins
    count = np.zeros((m, m))
    count[pc.i, pc.j] = pc.total
    count[pc.j, pc.i] = pc.total
    decisive = wins + wins.T
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(decisive > 0, wins / decisive, np.nan)
    r = ratings[order]
    pred = 1.0 / (1.0 + base ** ((r[None, :] - r[:, None]) / scale))
    k = len(order)
    avg = (pred.sum(axis=1) - np.diag(pred)) / max(k - 1, 1) if k else np.zeros(0)
    np.fill_diagonal(pred, np.nan)
    ix = np.ix_(order, order)
    return PairwiseTables(order, frac[ix], count[ix], pred, avg)
