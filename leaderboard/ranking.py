"""Rank (UB): 1 + the number of models whose lower bound is above this model's upper bound."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def rank_ub(lower: ArrayLike, upper: ArrayLike) -> NDArray[np.int64]:
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    if lo.size == 0:
        return np.zeros(0, dtype=np.int64)
    # sort the lower bounds once: count of lo > hi_i via binary search (NaN bounds never count)
    lo_sorted = np.sort(lo[~np.isnan(lo)])
    above = len(lo_sorted) - np.searchsorted(lo_sorted, hi, side="right")
    above = np.where(np.isnan(hi), 0, above)
    return (1 + above).astype(np.int64)
