"""Uniform vs active pair sampling on simulated arenas: interval widths, rank error, bias, votes saved.

    .venv/bin/python bench/sampling.py --models 20 50 100 --votes-per-model 400 --seeds 4 --spread 120

Each arena: true ratings ~ Normal(0, --spread) Elo points; votes arrive in --batches batches; before
each batch the sampler is recomputed from the votes so far (uniform, or the rules of
leaderboard.active_sampling: "bt", "neyman", "paper", mixed with uniform by --floor). Every vote records
its weight 1/(K P). Outcomes: a tie with probability 0.3 * 2 min(p, 1 - p), otherwise a win with
probability chosen so that the expected score is the BT probability p. Same vote budget for every sampler;
active samplers run on to --overrun x the budget so that "votes needed" can exceed it.

Two estimators of the same votes: "ipw" (the BT fit on the weighted counts, weighted-sandwich
intervals: the issue's unbiased design) and "mle" (the plain fit, plain sandwich: valid when the BT model
holds, since a design that depends only on past votes leaves the likelihood unchanged).

Printed per (models, estimator, sampler), averaged over seeds, at the budget: mean and max 95% interval
width, RMSE against the truth, mean |rank error|, the mean signed error of the top half of the models
(with mean identification the errors sum to zero, so this measures a stretched or squeezed scale; its
Monte Carlo s.e. over seeds in brackets), the largest weight; and the votes the active sampler needed to
reach uniform's mean (and max) width at the budget, linearly interpolated, as a share of the budget. The
last line per size is the oracle bound: the votes an A-optimal design (true ratings known, optimal pair
frequencies) needs for uniform's summed variance, for each estimator.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

from leaderboard.active_sampling import (
    PairProbabilities,
    SamplingData,
    active_probabilities,
    uniform_probabilities,
)
from leaderboard.bt import Identification, fit_bt, laplacian
from leaderboard.data import PairCounts
from leaderboard.sandwich import Z95, rating_cov, weighted_sandwich_cov

K400 = 400 / math.log(10)
Curve = list[tuple[int, float, float]]  # (votes, mean width, max width)


def outcomes(rng: np.random.Generator, true_theta: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    p = 1 / (1 + np.exp(true_theta[b] - true_theta[a]))
    t = 0.3 * 2 * np.minimum(p, 1 - p)
    u = rng.random(len(a))
    win = rng.random(len(a)) < (p - t / 2) / (1 - t)
    return np.where(u < t, 2, np.where(win, 0, 1))


def _fit(pc_fit: PairCounts, pc_sq: PairCounts, ident: Identification) -> tuple[np.ndarray, np.ndarray]:
    fit = fit_bt(pc_fit)
    cov = rating_cov(weighted_sandwich_cov(pc_fit, pc_sq, fit), ident)
    return ident.ratings(fit.theta), 2 * Z95 * np.sqrt(np.maximum(np.diag(cov), 0))


def run(
    true_theta: np.ndarray, budget: int, batch: int, total: int, sampler: str, floor: float, seed: int
) -> dict[str, dict[str, object]]:
    rng = np.random.default_rng(seed)
    m = len(true_theta)
    ident = Identification.make(np.ones(m, bool))
    truth = 1000 + K400 * (true_theta - true_theta.mean())
    top = truth >= np.median(truth)
    parts: list[tuple[np.ndarray, ...]] = []
    out: dict[str, dict[str, object]] = {"ipw": {"curve": []}, "mle": {"curve": []}}
    data: SamplingData | None = None
    probs: PairProbabilities = uniform_probabilities(m)
    done, sampler_s = 0, 0.0
    while done < total:
        if sampler != "uniform" and data is not None:
            t0 = time.perf_counter()
            probs = active_probabilities(data, rule=sampler.removeprefix("active-"), floor=floor)  # type: ignore[arg-type]
            sampler_s += time.perf_counter() - t0
        a, b, w = probs.draw(rng, batch)
        parts.append((a, b, outcomes(rng, true_theta, a, b), w))
        done += batch
        a_all, b_all, o_all, w_all = (np.concatenate(x) for x in zip(*parts, strict=True))
        data = SamplingData.from_votes(a_all, b_all, o_all, w_all, m)
        for est, (pf, pq) in (
            ("ipw", (data.weight_sum, data.weight_sq)),
            ("mle", (data.counts, data.counts)),
        ):
            rating, width = _fit(pf, pq, ident)
            out[est]["curve"].append((done, float(width.mean()), float(width.max())))  # type: ignore[attr-defined]
            if done == budget:
                err = rating - truth
                rank = np.abs(np.argsort(np.argsort(-rating)) - np.argsort(np.argsort(-truth)))
                out[est].update(
                    rmse=float(np.sqrt(np.mean(err**2))),
                    signed_top=float(err[top].mean()),
                    rank_err=float(rank.mean()),
                    mean_w=float(width.mean()),
                    max_w=float(width.max()),
                    max_weight=float(w_all.max()),
                    sampler_s=sampler_s,
                )
    return out


def votes_to_reach(curve: Curve, target: float, col: int) -> float:
    """First vote count at which the width curve reaches ``target`` (linear interpolation); inf if never."""
    prev = None
    for row in curve:
        if row[col] <= target:
            if prev is None:
                return float(row[0])
            (v0, y0), (v1, y1) = (prev[0], prev[col]), (row[0], row[col])
            return v0 + (v1 - v0) * (y0 - target) / (y0 - y1) if y0 != y1 else float(v1)
        prev = row
    return math.inf


def oracle_savings(true_theta: np.ndarray) -> tuple[float, float]:
    """Share of votes an A-optimal design saves for the summed rating variance (true ratings known):
    (plain MLE: multiplicative algorithm, 300 steps; IPW to the uniform target: Neyman allocation)."""
    m = len(true_theta)
    i, j = np.triu_indices(m, 1)
    k = len(i)
    p = 1 / (1 + np.exp(true_theta[j] - true_theta[i]))
    h = p * (1 - p)
    c = np.eye(m) - 1 / m

    def trace(q: np.ndarray) -> tuple[float, np.ndarray]:
        mi = np.linalg.inv(laplacian(m, i, j, q * h) + 1 / m)
        return float(np.trace(c @ mi @ c.T)), mi

    t_uniform, mi = trace(np.full(k, 1 / k))
    q = np.full(k, 1 / k)
    for _ in range(300):
        _, mi = trace(q)
        z = c @ mi
        q = q * h * np.sum((z[:, i] - z[:, j]) ** 2, axis=0)
        q /= q.sum()
    t_opt = trace(q)[0]
    z = c @ np.linalg.inv(laplacian(m, i, j, h / k) + 1 / m)
    g2 = h * np.sum((z[:, i] - z[:, j]) ** 2, axis=0)
    return 1 - t_opt / t_uniform, 1 - np.sum(np.sqrt(g2)) ** 2 / (k * np.sum(g2))


def _need(curves: list[Curve], refs: list[Curve], col: int, budget: int, budget_index: int) -> str:
    need = [votes_to_reach(c, r[budget_index][col], col) for c, r in zip(curves, refs, strict=True)]
    never = int(np.sum(np.isinf(need)))
    return (
        f"{np.mean(need) / budget:.1%}"
        if never == 0
        else f">{max(c[-1][0] for c in curves) / budget:.0%} ({never} never)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, nargs="+", default=[20, 50, 100])
    ap.add_argument("--votes-per-model", type=int, default=400)
    ap.add_argument("--batches", type=int, default=40, help="batches within the budget")
    ap.add_argument("--overrun", type=float, default=1.3)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--spread", type=float, default=120.0, help="sd of the true ratings, Elo points")
    ap.add_argument("--floor", type=float, default=0.2)
    ap.add_argument(
        "--samplers", nargs="+", default=["uniform", "active-bt", "active-neyman", "active-paper"]
    )
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; spread {args.spread} points")
    print(
        f"{args.votes_per_model} votes/model, floor {args.floor}, {args.batches} batches, seeds {args.seeds}"
    )
    print(
        "models est sampler        budget mean_w max_w  rmse rank_err signed_top(se) max_wt"
        "  votes_for_uniform_mean_w votes_for_uniform_max_w sampler_s"
    )
    for m in args.models:
        budget = m * args.votes_per_model
        batch = max(1, budget // args.batches)
        budget = batch * args.batches
        total = int(math.ceil(args.overrun * args.batches)) * batch
        res: dict[str, list[dict[str, dict[str, object]]]] = {s: [] for s in args.samplers}
        bounds = []
        for seed in range(args.seeds):
            true_theta = np.random.default_rng(seed).normal(0, args.spread / K400, m)
            bounds.append(oracle_savings(true_theta))
            for s in args.samplers:
                n_votes = budget if s == "uniform" else total
                res[s].append(run(true_theta, budget, batch, n_votes, s, args.floor, 1000 + seed))
        for est in ("ipw", "mle"):
            refs = [r[est]["curve"] for r in res["uniform"]] if "uniform" in res else None
            for s in args.samplers:
                rs = [r[est] for r in res[s]]
                curves: list[Curve] = [r["curve"] for r in rs]  # type: ignore[misc]
                need_mean = need_max = "-"
                if refs is not None and s != "uniform":
                    need_mean = _need(curves, refs, 1, budget, args.batches - 1)  # type: ignore[arg-type]
                    need_max = _need(curves, refs, 2, budget, args.batches - 1)  # type: ignore[arg-type]
                signed = np.array([r["signed_top"] for r in rs], dtype=float)
                se = signed.std(ddof=1) / np.sqrt(len(signed)) if len(signed) > 1 else math.nan
                print(
                    f"{m:6d} {est:3s} {s:13s} {budget:6d} {np.mean([r['mean_w'] for r in rs]):6.1f} "
                    f"{np.mean([r['max_w'] for r in rs]):5.1f} {np.mean([r['rmse'] for r in rs]):5.1f} "
                    f"{np.mean([r['rank_err'] for r in rs]):8.2f} {signed.mean():+6.2f}({se:4.2f}) "
                    f"{np.mean([r['max_weight'] for r in rs]):6.2f}  {need_mean:>24s} {need_max:>23s} "
                    f"{np.mean([r['sampler_s'] for r in rs]):9.2f}",
                    flush=True,
                )
        b = np.mean(bounds, axis=0)
        print(
            f"{m:6d} oracle A-optimal design: {b[0]:.1%} fewer votes (mle), {b[1]:.1%} fewer (ipw)",
            flush=True,
        )


if __name__ == "__main__":
    main()
