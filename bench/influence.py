"""Ranking fragility on a synthetic arena shaped like the public Chatbot Arena votes of 2024-08-14.

    .venv/bin/python bench/influence.py                      # 129 models, 1.67M battles
    .venv/bin/python bench/influence.py --battles 200000 --greedy
    .venv/bin/python bench/influence.py --small-arenas 60      # set sizes against the greedy search

The public file (clean_battle_20240814_public.json, ~1.6 GB) cannot be downloaded on this machine (no
internet except package registries), so the arena is simulated with its shape: 129 models released over
time (newer ones stronger, the top three within ~20 points, rating sd ~110), each pair's share of battles
proportional to both models' popularity (log-normal) and to how long they were live together (models meet
their contemporaries: skewed pair counts, some pairs never meet), ties by the tie law of
bench/leaderboard_fit.py (~19%).

Times, in one process: aggregation of the battles to cells, the BT fit, then
:func:`leaderboard.flip_search.find_flip` for the #1 spot (and the top-5 order, and the top pair), printing
the number of votes removed, their share, the pairs and outcomes, and the refit count; with --greedy also
:func:`leaderboard.flip_search.greedy_flip` (one-step effects) for comparison.

--small-arenas N instead compares set sizes with the greedy search on N random small arenas (4-10 models,
200-2000 battles, spreads and tie rates varied; greedy with exact effects where that is cheap, one-step
effects otherwise) for the #1 spot, the top-2 order and the top-2 set, and prints how often ours was
larger, equal or smaller, and both searches' total time.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

from leaderboard.bt import Identification, fit_bt
from leaderboard.data import aggregate
from leaderboard.flip_search import find_flip, greedy_flip
from leaderboard.fragility import FragilityResult, Target

K400 = 400 / math.log(10)


def simulate_arena(m: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    release = np.sort(rng.random(m))  # release time in [0, 1]
    rating = 900 + 380 * release + rng.normal(0, 45, m)  # newer models stronger, sd ~110 overall
    top = np.argsort(-rating)[:3]
    rating[top] = rating[top[0]] - np.array([0.0, 9.0, 17.0])  # a close race at the top
    end = np.minimum(1.0, release + rng.uniform(0.15, 0.8, m))  # retired after a while
    end[release > 0.8] = 1.0
    popularity = rng.lognormal(0, 1.0, m)
    i, j = np.triu_indices(m, 1)
    overlap = np.maximum(0.0, np.minimum(end[i], end[j]) - np.maximum(release[i], release[j]))
    w = popularity[i] * popularity[j] * overlap
    pair = rng.choice(len(i), size=n, p=w / w.sum())
    swap = rng.random(n) < 0.5
    a = np.where(swap, j[pair], i[pair])
    b = np.where(swap, i[pair], j[pair])
    p = 1 / (1 + 10 ** ((rating[b] - rating[a]) / 400))
    t = 0.3 * 2 * np.minimum(p, 1 - p)
    u = rng.random(n)
    win = rng.random(n) < (p - t / 2) / (1 - t)
    o = np.where(u < t, np.where(u < t / 3, 3, 2), np.where(win, 0, 1))
    return a, b, o, rating


def describe(name: str, res: FragilityResult, models: list[str], seconds: float) -> None:
    if not res.found:
        print(f"{name}: none found ({res.refits} refits, {seconds:.2f} s)")
        return
    print(
        f"{name}: {res.n_removed} of {res.n_total:,} votes ({res.share:.5%}) in {seconds:.2f} s, "
        f"{res.refits} refits; first-order (AMIP) prediction {res.predicted}; driven pair "
        f"{models[res.driven_pair[0]]} > {models[res.driven_pair[1]]}"  # type: ignore[index]
    )
    for g in sorted(res.groups(models), key=lambda g: -g["count"])[:8]:
        print(f"    {g['count']:4d} x {g['model_a']} vs {g['model_b']}: winner {g['winner']}")


def small_arenas(n: int) -> None:
    worse = equal = better = neither = 0
    t_ours = t_greedy = 0.0
    for seed in range(200, 200 + n):
        rng = np.random.default_rng(seed)
        m, battles = int(rng.integers(4, 11)), int(rng.integers(200, 2000))
        spread = float(rng.choice([0.2, 0.5, 1.0]))
        tie_rate = float(rng.choice([0.0, 0.15, 0.4]))
        rating = rng.normal(0, spread, m)
        a = rng.integers(0, m, battles)
        b = (a + rng.integers(1, m, battles)) % m
        p = 1 / (1 + np.exp(rating[b] - rating[a]))
        u = rng.random(battles)
        o = np.where(u < tie_rate, 2, np.where(rng.random(battles) < p, 0, 1))
        pc = aggregate(a, b, o, m)
        for target in (Target.top(1), Target.top(2), Target.top_set(2)):
            t0 = time.perf_counter()
            ours = find_flip(pc, target)
            t_ours += time.perf_counter() - t0
            t0 = time.perf_counter()
            greedy = greedy_flip(pc, target, effect="exact" if m * m * battles < 20_000 else "one-step")
            t_greedy += time.perf_counter() - t0
            if not greedy.found and not ours.found:
                neither += 1
            elif greedy.found and (not ours.found or ours.n_removed > greedy.n_removed):
                worse += 1
                print(f"  larger: seed {seed} {target} ours {ours.n_removed} greedy {greedy.n_removed}")
            elif ours.found and (not greedy.found or ours.n_removed < greedy.n_removed):
                better += 1
            else:
                equal += 1
    print(
        f"{n} arenas x 3 targets: ours larger {worse}, equal {equal}, smaller {better}, "
        f"neither found {neither}; time ours {t_ours:.1f} s, greedy {t_greedy:.1f} s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=129)
    ap.add_argument("--battles", type=int, default=1_670_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--greedy", action="store_true", help="also run the one-vote-at-a-time greedy search")
    ap.add_argument("--small-arenas", type=int, default=0, help="compare with greedy on N small arenas")
    args = ap.parse_args()
    if args.small_arenas:
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        small_arenas(args.small_arenas)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        return
    print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    a, b, o, rating = simulate_arena(args.models, args.battles, args.seed)
    models = [f"model-{k:03d}" for k in range(args.models)]
    c0, t0 = time.process_time(), time.perf_counter()
    pc = aggregate(a, b, o, args.models)
    fit = fit_bt(pc)
    t_fit = time.perf_counter() - t0
    r = Identification.make(fit.rankable).ratings(fit.theta)
    order = np.argsort(-r)
    print(
        f"{args.battles:,} battles, {args.models} models, {len(pc.i):,} pairs met "
        f"(of {args.models * (args.models - 1) // 2:,}); battles per pair: median "
        f"{np.median(pc.total):.0f}, max {pc.total.max():.0f}; aggregate + fit {t_fit:.2f} s"
    )
    print("top 5: " + ", ".join(f"{models[k]} {r[k]:.1f}" for k in order[:5]))
    total = 0.0
    for name, target in (
        ("top-1", Target.top(1)),
        ("top-5 order", Target.top(5)),
        ("top pair", Target.pair(int(order[0]), int(order[1]))),
    ):
        t1 = time.perf_counter()
        res = find_flip(pc, target, fit=fit)
        dt = time.perf_counter() - t1
        total += dt
        describe(f"find_flip {name}", res, models, dt)
        if args.greedy and name != "top-5 order":
            t1 = time.perf_counter()
            g = greedy_flip(pc, target)
            describe(f"greedy    {name}", g, models, time.perf_counter() - t1)
    print(
        f"aggregate + fit + the three searches: {t_fit + total:.2f} s wall, "
        f"{time.process_time() - c0:.2f} s CPU (greedy included when run)"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
