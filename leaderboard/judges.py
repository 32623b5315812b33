"""Per-judge (or per-prompt) views for the operator: how concentrated the votes are, and how much the
ratings move when the heaviest voters are left out.

A "cluster" is a judge (whoever cast the votes) or a prompt / conversation: every function takes one id per
vote, so the same code serves both views.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from leaderboard.bt import Identification, fit_bt
from leaderboard.data import FloatArray, IntArray, aggregate, validate_battles

# Buckets of votes per cluster for the distribution table: [lo, hi] inclusive, hi None = no upper end.
BUCKETS: tuple[tuple[int, int | None], ...] = ((1, 1), (2, 5), (6, 20), (21, 100), (101, 1000), (1001, None))


@dataclass(frozen=True)
class ClusterSummary:
    n_votes: int
    n_clusters: int
    mean: float  # votes per cluster
    median: float
    p90: float
    p99: float
    max: int
    top_share: float  # share of the votes cast by the top ``top_fraction`` of clusters (at least one)
    top_count: int  # how many clusters that is
    top_fraction: float
    top10_share: float  # share of the votes cast by the 10 heaviest clusters
    buckets: tuple[tuple[str, int, int], ...]  # (label, clusters, votes) per bucket of BUCKETS


def _votes_per_cluster(
    cluster: ArrayLike, counts: ArrayLike | None
) -> tuple[np.ndarray, FloatArray, IntArray]:
    cl = np.asarray(cluster)
    if cl.ndim != 1:
        raise ValueError("cluster ids must be a 1-D array, one id per vote")
    w = np.ones(len(cl)) if counts is None else np.asarray(counts, dtype=np.float64)
    if w.shape != cl.shape:
        raise ValueError("counts must have one entry per vote")
    labels, idx = np.unique(cl, return_inverse=True)
    per = np.asarray(np.bincount(idx.ravel(), w, len(labels)), dtype=np.float64)
    return np.asarray(labels), per, np.asarray(idx.ravel(), dtype=np.int64)


def _heaviest(per: FloatArray, fraction: float) -> IntArray:
    """Indices of the ceil(fraction * C) clusters with the most votes (at least one; ties by label)."""
    n = max(1, math.ceil(fraction * len(per))) if len(per) else 0
    return np.asarray(np.argsort(-per, kind="stable")[:n], dtype=np.int64)


def cluster_summary(
    cluster: ArrayLike, counts: ArrayLike | None = None, *, top_fraction: float = 0.01
) -> ClusterSummary:
    """Distribution of votes per cluster (judge or prompt) and the share of the heaviest ones."""
    if not 0 < top_fraction <= 1:
        raise ValueError("top_fraction must be in (0, 1]")
    _, per, _ = _votes_per_cluster(cluster, counts)
    total = float(per.sum())
    if len(per) == 0 or total <= 0:
        empty = tuple((_label(lo, hi), 0, 0) for lo, hi in BUCKETS)
        return ClusterSummary(0, 0, 0.0, 0.0, 0.0, 0.0, 0, 0.0, 0, top_fraction, 0.0, empty)
    srt = np.sort(per)[::-1]
    top = _heaviest(per, top_fraction)
    rows = []
    for lo, hi in BUCKETS:
        sel = (per >= lo) & (per <= (np.inf if hi is None else hi))
        rows.append((_label(lo, hi), int(sel.sum()), int(round(float(per[sel].sum())))))
    return ClusterSummary(
        n_votes=int(round(total)),
        n_clusters=len(per),
        mean=total / len(per),
        median=float(np.median(per)),
        p90=float(np.percentile(per, 90)),
        p99=float(np.percentile(per, 99)),
        max=int(round(float(srt[0]))),
        top_share=float(per[top].sum()) / total,
        top_count=len(top),
        top_fraction=top_fraction,
        top10_share=float(srt[:10].sum()) / total,
        buckets=tuple(rows),
    )


def _label(lo: int, hi: int | None) -> str:
    return f"{lo}" if lo == hi else (f"{lo}+" if hi is None else f"{lo}-{hi}")


@dataclass(frozen=True)
class LeaveOutShift:
    """Ratings without the votes of the heaviest clusters, against the ratings with all votes."""

    fraction: float
    left_out_clusters: int
    left_out_votes: int
    n_votes: int
    rating_all: FloatArray
    rating_without: FloatArray  # NaN for a model that is not rankable without those votes
    top_all: int
    top_without: int
    rank_changes: int  # models (rankable in both fits) whose position in the order changed

    @property
    def shift(self) -> FloatArray:
        return np.asarray(self.rating_without - self.rating_all)

    @property
    def max_abs_shift(self) -> float:
        s = np.abs(self.shift)
        return float(np.nanmax(s)) if np.isfinite(s).any() else math.nan

    @property
    def median_abs_shift(self) -> float:
        s = np.abs(self.shift)
        return float(np.nanmedian(s)) if np.isfinite(s).any() else math.nan

    def line(self, models: list[str], *, what: str = "judges") -> str:
        """One-line robustness figure for the leaderboard."""
        pct = f"{self.fraction:.0%}" if self.fraction >= 0.01 else f"{self.fraction:.1%}"
        share = self.left_out_votes / self.n_votes if self.n_votes else 0.0
        top = (
            f"#1 unchanged ({models[self.top_all]})"
            if self.top_all == self.top_without
            else f"#1 changes from {models[self.top_all]} to {models[self.top_without]}"
        )
        return (
            f"Leaving out the top {pct} of {what} ({self.left_out_clusters:,} "
            f"{what if self.left_out_clusters != 1 else what.removesuffix('s')}, {share:.1%} of votes) "
            f"moves ratings by at most {self.max_abs_shift:.1f} points (median {self.median_abs_shift:.1f}); "
            f"{top}."
        )


def leave_out_heaviest(
    model_a: ArrayLike,
    model_b: ArrayLike,
    outcome: ArrayLike,
    n_models: int,
    cluster: ArrayLike,
    *,
    fraction: float = 0.01,
    counts: ArrayLike | None = None,
    anchor: int | None = None,
) -> LeaveOutShift:
    """Refit without the votes of the ceil(fraction * C) heaviest clusters. Both fits are identified over
    the models rankable in both (mean rating 1000, or ``anchor``), so the shift is a relative movement."""
    if not 0 < fraction < 1:
        raise ValueError("fraction must be in (0, 1)")
    a, b, o = validate_battles(model_a, model_b, outcome, n_models)
    if np.asarray(cluster).shape != a.shape:
        raise ValueError("cluster must hold one id per battle")
    w = np.ones(len(a)) if counts is None else np.asarray(counts, dtype=np.float64)
    _, per, idx = _votes_per_cluster(cluster, w)
    drop = np.zeros(len(per), dtype=bool)
    drop[_heaviest(per, fraction)] = True
    keep = ~drop[idx]
    full = fit_bt(aggregate(a, b, o, n_models, w))
    part = fit_bt(aggregate(a[keep], b[keep], o[keep], n_models, w[keep]))
    both = full.rankable & part.rankable
    ident = Identification.make(both, anchor=anchor)
    r_all, r_wo = ident.ratings(full.theta), ident.ratings(part.theta)
    r_wo = np.where(part.rankable, r_wo, np.nan)
    order_all = [m for m in np.argsort(-r_all, kind="stable").tolist() if both[m]]
    order_wo = [m for m in np.argsort(-np.nan_to_num(r_wo, nan=-np.inf), kind="stable").tolist() if both[m]]
    pos_all = {m: k for k, m in enumerate(order_all)}
    pos_wo = {m: k for k, m in enumerate(order_wo)}
    changes = sum(1 for m in order_all if pos_all[m] != pos_wo[m])
    top_all = int(np.nanargmax(np.where(full.rankable, r_all, np.nan))) if full.rankable.any() else 0
    top_wo = int(np.nanargmax(r_wo)) if np.isfinite(r_wo).any() else top_all
    return LeaveOutShift(
        fraction,
        int(drop.sum()),
        int(round(float(w[~keep].sum()))),
        int(round(float(w.sum()))),
        r_all,
        r_wo,
        top_all,
        top_wo,
        changes,
    )
