"""Cluster bootstrap and clustered sandwich at arena scale: time and width against the battle versions.

    .venv/bin/python bench/cluster_intervals.py --battles 1670000 --judges 300000 --rounds 1000

The arena of bench/influence.py (129 models, skewed pair counts); each battle gets a judge drawn with
skewed activity (P(judge k) ∝ (k+1)^-0.8), and --taste (sd of a judge's personal rating offsets, in
theta units; 0 = independent votes) redraws the decisive votes with them, so a judge's votes are
correlated. Prints the wall time of
cluster_cells, of the battle bootstrap, the cluster bootstrap and the clustered sandwich (2 threads), the
votes-per-judge summary and the mean interval widths of each method.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from leaderboard.bootstrap import bootstrap_thetas, identify_rounds, percentile_intervals
from leaderboard.bt import Identification, fit_bt
from leaderboard.clusters import cluster_bootstrap_thetas, cluster_cells, clustered_sandwich_intervals
from leaderboard.judges import cluster_summary
from leaderboard.sandwich import sandwich_intervals

sys.path.insert(0, str(Path(__file__).parent))
from influence import simulate_arena  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--battles", type=int, default=1_670_000)
    ap.add_argument("--models", type=int, default=129)
    ap.add_argument("--judges", type=int, default=300_000)
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--taste", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    a, b, o, rating = simulate_arena(args.models, args.battles, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    p = np.arange(1, args.judges + 1) ** -0.8
    judge = rng.choice(args.judges, args.battles, p=p / p.sum())
    if args.taste > 0:  # each judge's taste: personal offsets on the ratings; redraw the decisive votes
        theta = rating * np.log(10) / 400
        offsets = rng.normal(0, args.taste, (args.judges, args.models)).astype(np.float32)
        d = theta[a] - theta[b] + offsets[judge, a] - offsets[judge, b]
        win = rng.random(args.battles) < 1 / (1 + np.exp(-d))
        o = np.where(o < 2, np.where(win, 0, 1), o)
    s = cluster_summary(judge)
    print(
        f"{args.battles:,} battles, {s.n_clusters:,} judges: median {s.median:.0f} votes, p99 {s.p99:.0f}, "
        f"max {s.max:,}; top 1% cast {s.top_share:.1%}, top 10 cast {s.top10_share:.1%}"
    )
    t0 = time.perf_counter()
    cells = cluster_cells(a, b, o, args.models, judge)
    t_cells = time.perf_counter() - t0
    fit = fit_bt(cells.pairs)
    ident = Identification.make(fit.rankable)
    print(f"cluster_cells: {t_cells:.2f} s ({cells.matrix.nnz:,} nonzero judge x cell entries)")
    widths = {}
    t0 = time.perf_counter()
    th = bootstrap_thetas(cells.pairs, fit, np.random.default_rng(1), rounds=args.rounds, threads=2)
    lo, hi = percentile_intervals(identify_rounds(ident, th))
    widths["battle bootstrap"] = (time.perf_counter() - t0, float(np.mean(hi - lo)))
    t0 = time.perf_counter()
    th = cluster_bootstrap_thetas(cells, fit, np.random.default_rng(2), rounds=args.rounds, threads=2)
    lo, hi = percentile_intervals(identify_rounds(ident, th))
    widths["cluster bootstrap"] = (time.perf_counter() - t0, float(np.mean(hi - lo)))
    t0 = time.perf_counter()
    lo, hi = sandwich_intervals(cells.pairs, fit, ident)
    widths["sandwich"] = (time.perf_counter() - t0, float(np.mean(hi - lo)))
    t0 = time.perf_counter()
    lo, hi = clustered_sandwich_intervals(cells, fit, ident)
    widths["clustered sandwich"] = (time.perf_counter() - t0, float(np.mean(hi - lo)))
    for name, (sec, w) in widths.items():
        print(f"{name:20s} {sec:7.2f} s   mean 95% width {w:6.2f} points")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
