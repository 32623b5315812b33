"""Benchmark the vote-integrity scan (leaderboard/integrity.py) on a simulated arena with planted bots.

    .venv/bin/python bench/integrity_scan.py                  # 20 arenas + the 1M-vote timing
    .venv/bin/python bench/integrity_scan.py --reps 5 --no-timing

Each arena (tests/leaderboard/integrity_sim.py): 200 honest judges voting by the true strengths (with the
shared preference for longer answers that style control measures) and 10 bots (4 always for one model,
3 always for the longer answer, 3 random), 50-500 votes each, 20 models. Per arena: fit BT on all votes
(what the leaderboard shows), scan with each configuration below, and refit without the flagged judges.
Printed per configuration, summed over arenas: recall per bot kind, honest judges flagged, precision;
the ratings' max / mean absolute error against the truth (Elo points, both sides mean-centred) before
and after excluding the flagged judges, and with exactly the bots excluded (the best any scan can do).
Then the time of one scan for --timing-votes votes / --timing-judges judges. Figures depend on the load.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.leaderboard.integrity_sim

from leaderboard.bt import fit_bt  # noqa: E402
from leaderboard.data import aggregate  # noqa: E402
from leaderboard.integrity import OutcomeModel, outcome_model, scan_judges  # noqa: E402
from leaderboard.style import fit_style  # noqa: E402
from tests.leaderboard.integrity_sim import BOT_KINDS, Arena, simulate_arena  # noqa: E402

K400 = 400 / math.log(10)


@dataclass(frozen=True)
class Config:
    name: str
    tests: tuple[str, ...]
    style_null: bool  # null from the style-controlled fit (theta + x beta) instead of ratings only
    correction: str = "bh"
    passes: int = 1  # 2: refit without the judges the first pass flagged, then scan everyone again


CONFIGS = (
    Config("paper: surprise only, BT null", ("surprise",), False),
    Config("surprise + model_bias, BT null", ("surprise", "model_bias"), False),
    Config("+ covariate, BT null", ("surprise", "model_bias", "covariate"), False),
    Config("+ covariate, style null (recommended)", ("surprise", "model_bias", "covariate"), True),
    Config("same, Bonferroni", ("surprise", "model_bias", "covariate"), True, "bonferroni"),
    Config("recommended, two passes", ("surprise", "model_bias", "covariate"), True, passes=2),
)
RECOMMENDED = CONFIGS[3].name


def rating_errors(ar: Arena, keep: np.ndarray) -> tuple[float, float]:
    m = len(ar.theta)
    fit = fit_bt(aggregate(ar.a[keep], ar.b[keep], ar.o[keep], m))
    err = K400 * ((fit.theta - fit.theta.mean()) - ar.theta)
    return float(np.max(np.abs(err))), float(np.mean(np.abs(err)))


@dataclass
class Outcome:
    """One configuration on one arena."""

    found: dict[str, int]  # bot kind -> bots flagged
    planted: dict[str, int]
    honest_flagged: int
    honest: int
    after: tuple[float, float]  # max / mean abs rating error after excluding the flagged judges
    surprise_p_honest: np.ndarray


@dataclass
class ArenaResult:
    before: tuple[float, float]
    oracle: tuple[float, float]  # exactly the bots excluded
    configs: dict[str, Outcome]


def null_model(ar: Arena, style: bool, keep: np.ndarray) -> OutcomeModel:
    """The null from a fit on the votes where ``keep`` is True (BT, or style-controlled BT)."""
    m = len(ar.theta)
    if not style:
        fit = fit_bt(aggregate(ar.a[keep], ar.b[keep], ar.o[keep], m))
        return outcome_model(ar.a, ar.b, ar.o, fit.theta, rated=fit.rankable, reference=keep)
    x = ar.style_x()
    sfit = fit_style(ar.a[keep], ar.b[keep], ar.o[keep], m, x[keep])
    return outcome_model(
        ar.a, ar.b, ar.o, sfit.theta, offset=x @ sfit.beta, rated=sfit.rankable, reference=keep
    )


def run_arena(ar: Arena, rng: np.random.Generator, alpha: float) -> ArenaResult:
    everything = np.ones(len(ar.a), dtype=bool)
    nulls = {style: null_model(ar, style, everything) for style in (False, True)}
    u = rng.random(len(ar.a))
    bot = ar.is_bot()
    kinds = np.array(ar.kind)
    configs: dict[str, Outcome] = {}
    for cfg in CONFIGS:
        null = nulls[cfg.style_null]
        for _ in range(cfg.passes):
            scan = scan_judges(
                ar.judge,
                ar.a,
                ar.b,
                ar.o,
                null,
                ar.n_judges,
                u,
                covariate=ar.tokens_a - ar.tokens_b,
                tests=cfg.tests,
                alpha=alpha,
                correction=cfg.correction,
            )
            null = null_model(ar, cfg.style_null, ~scan.flagged[ar.judge])
        configs[cfg.name] = Outcome(
            found={k: int((scan.flagged & (kinds == k)).sum()) for k in BOT_KINDS},
            planted={k: int((kinds == k).sum()) for k in BOT_KINDS},
            honest_flagged=int((scan.flagged & ~bot).sum()),
            honest=int((~bot).sum()),
            after=rating_errors(ar, ~scan.flagged[ar.judge]),
            surprise_p_honest=scan.surprise_p[~bot],
        )
    return ArenaResult(rating_errors(ar, everything), rating_errors(ar, ~bot[ar.judge]), configs)


def accuracy(reps: int, seed: int, alpha: float, votes: tuple[int, int]) -> None:
    rng = np.random.default_rng(seed)
    results = [run_arena(simulate_arena(rng, votes=votes), rng, alpha) for _ in range(reps)]
    print(
        f"{reps} arenas: 200 honest judges + 10 bots (4 favourite, 3 longer, 3 random), "
        f"{votes[0]}-{votes[1]} votes each, 20 models; alpha {alpha}"
    )
    before = np.array([r.before for r in results])
    oracle = np.array([r.oracle for r in results])
    print(
        f"ratings error, all votes: max {before[:, 0].mean():.1f}, mean {before[:, 1].mean():.1f} Elo "
        f"points (averaged over arenas); bots excluded exactly: max {oracle[:, 0].mean():.1f}, "
        f"mean {oracle[:, 1].mean():.1f}"
    )
    header = "| configuration | " + " | ".join(f"recall {k}" for k in BOT_KINDS)
    print(header + " | honest flagged | precision | error after (max / mean) |")
    print("|" + " --- |" * (len(BOT_KINDS) + 4))
    for cfg in CONFIGS:
        rs = [r.configs[cfg.name] for r in results]
        rec = []
        for k in BOT_KINDS:
            f, p = sum(r.found[k] for r in rs), sum(r.planted[k] for r in rs)
            rec.append(f"{f}/{p} ({f / p:.0%})")
        tp = sum(sum(r.found.values()) for r in rs)
        fp = sum(r.honest_flagged for r in rs)
        honest = sum(r.honest for r in rs)
        after = np.array([r.after for r in rs])
        prec = f"{tp / (tp + fp):.1%}" if tp + fp else "n/a"
        cells = " | ".join(rec)
        print(
            f"| {cfg.name} | {cells} | {fp}/{honest} | {prec} | "
            f"{after[:, 0].mean():.1f} / {after[:, 1].mean():.1f} |"
        )
    rec = np.array([r.configs[RECOMMENDED].after for r in results])
    closer = int(sum(r.configs[RECOMMENDED].after[1] < r.before[1] for r in results))
    print(
        f"`arena integrity scan --apply` (the recommended configuration) then recompute: ratings error max "
        f"{rec[:, 0].mean():.1f} / mean {rec[:, 1].mean():.1f} Elo points against "
        f"{before[:, 0].mean():.1f} / {before[:, 1].mean():.1f} with every vote: closer to the truth in "
        f"{closer} of {reps} arenas"
    )
    for name in (RECOMMENDED, CONFIGS[-1].name):
        ps = np.concatenate([r.configs[name].surprise_p_honest for r in results])
        ks = stats.kstest(ps, "uniform")
        print(
            f"honest judges' surprise p-values ({name}): {len(ps)} judges, KS vs uniform D = "
            f"{ks.statistic:.4f}, p = {ks.pvalue:.3f}; share below 0.05: {(ps < 0.05).mean():.3f}"
        )


def timing(n_votes: int, n_judges: int, n_models: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    per = max(1, n_votes // n_judges)
    ar = simulate_arena(
        rng,
        models=n_models,
        honest=n_judges - 10,
        votes=(per // 2, per * 3 // 2),
        bots={"favourite": 4, "longer": 3, "random": 3},
    )
    n = len(ar.a)
    load = os.getloadavg()[0]
    print(f"timing: {n} votes, {ar.n_judges} judges, {n_models} models; load average {load:.1f}")
    t0 = time.perf_counter()
    fit = fit_bt(aggregate(ar.a, ar.b, ar.o, n_models))
    t1 = time.perf_counter()
    x = ar.style_x()
    sfit = fit_style(ar.a, ar.b, ar.o, n_models, x)
    t2 = time.perf_counter()
    cpu0 = time.process_time()
    null = outcome_model(ar.a, ar.b, ar.o, sfit.theta, offset=x @ sfit.beta, rated=fit.rankable)
    cov = ar.tokens_a - ar.tokens_b
    scan = scan_judges(ar.judge, ar.a, ar.b, ar.o, null, ar.n_judges, rng, covariate=cov)
    t3 = time.perf_counter()
    cpu = time.process_time() - cpu0
    bot = ar.is_bot()
    print(
        f"  BT fit {t1 - t0:.2f} s; style fit {t2 - t1:.2f} s; null + scan (3 statistics) {t3 - t2:.2f} s "
        f"wall, {cpu:.2f} s CPU; total {t3 - t0:.2f} s"
    )
    print(
        f"  flagged: {int((scan.flagged & bot).sum())}/10 bots, {int((scan.flagged & ~bot).sum())} of "
        f"{int((~bot).sum())} honest judges"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=20, help="simulated arenas for the accuracy table")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument(
        "--votes",
        type=int,
        nargs=2,
        default=(50, 500),
        metavar=("MIN", "MAX"),
        help="each judge's vote count is uniform in MIN..MAX",
    )
    ap.add_argument("--timing-votes", type=int, default=1_000_000)
    ap.add_argument("--timing-judges", type=int, default=10_000)
    ap.add_argument("--timing-models", type=int, default=100)
    ap.add_argument("--no-timing", action="store_true")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    if args.reps:
        accuracy(args.reps, args.seed, args.alpha, tuple(args.votes))
    if not args.no_timing:
        timing(args.timing_votes, args.timing_judges, args.timing_models, args.seed)


if __name__ == "__main__":
    main()
