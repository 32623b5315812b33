"""Combining p-values within groups and correcting across groups (pure numpy/scipy).

* :func:`fisher_by_group`: Fisher's method per group, ``X = -2 sum log p`` ~ chi-squared with ``2k``
  degrees of freedom under the null (independent, exactly uniform p-values); equals
  ``scipy.stats.combine_pvalues(p, method="fisher")`` for each group, for all groups in one pass.
* :func:`stouffer_by_group`: ``Z = sum z / sqrt(k)`` per group, N(0, 1) under the null (independent
  standard normal scores).
* :func:`benjamini_hochberg` (false discovery rate) and :func:`bonferroni` (family-wise error rate)
  adjusted p-values: reject where the adjusted value is at most the level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import chdtrc, erfc

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# log(0) would make a statistic infinite; a randomised p-value is 0 only with probability 2^-53.
_P_FLOOR = float(np.finfo(np.float64).tiny)
CORRECTIONS = ("bh", "bonferroni")


@dataclass(frozen=True)
class GroupCombination:
    """Per group: the number of p-values (scores) combined, the statistic and its p-value.

    Groups with no member have ``count`` 0, statistic 0 and p-value 1 (no evidence)."""

    count: IntArray
    statistic: FloatArray
    pvalue: FloatArray


def _groups(groups: ArrayLike, n_groups: int, n: int) -> IntArray:
    g = np.asarray(groups, dtype=np.int64)
    if g.shape != (n,):
        raise ValueError("groups must be a 1-D array as long as the values")
    if n and (g.min() < 0 or g.max() >= n_groups):
        raise ValueError(f"group codes must be in 0..{n_groups - 1}")
    return g


def fisher_by_group(pvalues: ArrayLike, groups: ArrayLike, n_groups: int) -> GroupCombination:
    """Fisher's combination of ``pvalues`` within each group (codes ``0..n_groups-1``)."""
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1 or (len(p) and (np.isnan(p).any() or p.min() < 0 or p.max() > 1)):
        raise ValueError("p-values must be a 1-D array of numbers in [0, 1]")
    g = _groups(groups, n_groups, len(p))
    count = np.bincount(g, minlength=n_groups).astype(np.int64)
    stat = np.asarray(np.bincount(g, -2.0 * np.log(np.maximum(p, _P_FLOOR)), n_groups), dtype=np.float64)
    # chdtrc(df, x) is chi2.sf(x, df) without the distribution-object overhead (10k groups: ~1 ms)
    pv = np.where(count > 0, chdtrc(2.0 * np.maximum(count, 1), stat), 1.0)
    return GroupCombination(count, stat, pv)


def stouffer_by_group(
    scores: ArrayLike, groups: ArrayLike, n_groups: int, *, two_sided: bool = True
) -> GroupCombination:
    """Stouffer's combination of standard-normal ``scores`` within each group; ``statistic`` is Z.

    Two-sided p-value ``P(|N(0,1)| >= |Z|)``, or one-sided ``P(N(0,1) >= Z)``."""
    z = np.asarray(scores, dtype=np.float64)
    if z.ndim != 1 or (len(z) and not np.isfinite(z).all()):
        raise ValueError("scores must be a 1-D array of finite numbers")
    g = _groups(groups, n_groups, len(z))
    count = np.bincount(g, minlength=n_groups).astype(np.int64)
    total = np.bincount(g, z, minlength=n_groups)
    stat = np.where(count > 0, total / np.sqrt(np.maximum(count, 1)), 0.0)
    tail = erfc(np.abs(stat) / np.sqrt(2.0)) if two_sided else 0.5 * erfc(stat / np.sqrt(2.0))
    return GroupCombination(count, stat, np.where(count > 0, tail, 1.0))


def benjamini_hochberg(pvalues: ArrayLike) -> FloatArray:
    """Benjamini-Hochberg adjusted p-values (step-up; the same as
    ``scipy.stats.false_discovery_control(p, method="bh")``). Controls the false discovery rate for
    independent or positively dependent p-values."""
    p = np.asarray(pvalues, dtype=np.float64)
    n = len(p)
    if n == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = p[order] * n / np.arange(1, n + 1)
    adj = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(adj, 1.0)
    return out


def bonferroni(pvalues: ArrayLike) -> FloatArray:
    """Bonferroni adjusted p-values ``min(1, n p)``: controls the family-wise error rate under any
    dependence."""
    p = np.asarray(pvalues, dtype=np.float64)
    return np.minimum(p * len(p), 1.0)


def adjust(pvalues: ArrayLike, correction: str) -> FloatArray:
    """Adjusted p-values by name: ``"bh"`` or ``"bonferroni"``."""
    if correction == "bh":
        return benjamini_hochberg(pvalues)
    if correction == "bonferroni":
        return bonferroni(pvalues)
    raise ValueError(f"unknown multiple-testing correction {correction!r}: use bh or bonferroni")
