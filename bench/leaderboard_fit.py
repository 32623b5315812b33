"""Benchmark ``arena leaderboard fit`` end to end on synthetic battles from known ratings (ties included).

    .venv/bin/python bench/leaderboard_fit.py --battles 2000000 --models 200 --rounds 1000

Writes the battles as our CSV export and as FastChat clean_battle JSON (to --dir, default a temp dir),
runs ``arena leaderboard fit`` on each in a fresh process, and prints wall time, peak RSS of that process
and the worst error of the fitted ratings against the true ones. Figures are machine- and load-dependent.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WINNERS = np.array(["model_a", "model_b", "tie", "tie (bothbad)"])


def simulate(n: int, m: int, seed: int, tie_rate: float = 0.3):
    """Battles whose expected score (ties = 1/2) is exactly the BT probability, so the half-tie BT fit is
    consistent: a tie happens with probability ``tie_rate * 2 min(p, 1 - p)`` (close models tie more)
    and otherwise ``a`` wins with probability ``(p - t/2) / (1 - t)``."""
    rng = np.random.default_rng(seed)
    true = rng.normal(0, 150, m)  # rating points
    true -= true.mean()
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    p = 1 / (1 + 10 ** ((true[b] - true[a]) / 400))
    t = tie_rate * 2 * np.minimum(p, 1 - p)
    u = rng.random(n)
    tie = u < t
    bothbad = u < t / 3
    win = rng.random(n) < (p - t / 2) / (1 - t)
    o = np.where(tie, np.where(bothbad, 3, 2), np.where(win, 0, 1))
    return a, b, o, true + 1000


def names(m: int) -> list[str]:
    return [f"model-{i:03d}-instruct" for i in range(m)]


def write_csv(path: Path, a, b, o, m: int) -> None:
    nm = np.array(names(m))
    n = len(a)
    t = np.datetime64("2026-01-01T00:00:00", "us") + (np.arange(n) * 10_000).astype("timedelta64[us]")
    ts = np.char.add(np.datetime_as_string(t, unit="us"), "Z")
    ids = np.arange(1, n + 1).astype(str)
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("vote_id,battle_id,tstamp,mode,model_a,model_b,winner,turn,excluded_reason,judge,tags\n")
        step = 200_000
        for s in range(0, n, step):
            sl = slice(s, s + step)
            rows = zip(ids[sl], ids[sl], ts[sl], nm[a[sl]], nm[b[sl]], WINNERS[o[sl]], strict=True)
            fh.write(
                "".join(
                    f"{i},{j},{t_},anony,{x},{y},{w},1,,judge{int(i) % 997},\n" for i, j, t_, x, y, w in rows
                )
            )


def write_json(path: Path, a, b, o, m: int) -> None:
    nm = names(m)
    rows = [
        {
            "model_a": nm[x],
            "model_b": nm[y],
            "winner": str(WINNERS[w]),
            "judge": f"j{k % 997}",
            "turn": 1,
            "anony": True,
            "language": "English",
            "tstamp": 1.7e9 + k * 0.01,
        }
        for k, (x, y, w) in enumerate(zip(a.tolist(), b.tolist(), o.tolist(), strict=True))
    ]
    path.write_text(json.dumps(rows))


def run_fit(path: Path, out: Path, rounds: int, extra: list[str]) -> tuple[float, float]:
    cmd = [
        sys.executable,
        "-m",
        "arena_app.cli.main",
        "leaderboard",
        "fit",
        str(path),
        "--out",
        str(out),
        "--rounds",
        str(rounds),
        "--limit",
        "3",
        *extra,
    ]
    cmd = ["/usr/bin/time", "-f", "%e %U %S %M", *cmd]  # wall, user, sys seconds, peak RSS KiB
    load = os.getloadavg()[0]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"fit failed: {proc.stderr}")
    wall, user, system, peak_kib = proc.stderr.strip().splitlines()[-1].split()
    print(proc.stdout.strip().splitlines()[0])
    print(
        f"  cpu {float(user) + float(system):.1f} s (user {user}, sys {system}); load average before: "
        f"{load:.1f}"
    )
    return float(wall), int(peak_kib) / 1024


def check(out: Path, true: np.ndarray, m: int) -> float:
    rows = json.loads(out.read_text())
    got = {r["model"]: r for r in rows}
    nm = names(m)
    err = max(abs(got[nm[i]]["rating"] - true[i]) for i in range(m))
    covered = np.mean([got[nm[i]]["lower"] <= true[i] <= got[nm[i]]["upper"] for i in range(m)])
    print(
        f"  max |rating - true| = {err:.2f} points; "
        f"true rating inside the 95% interval for {covered:.0%} of models"
    )
    return err


def scaling(grid: list[tuple[int, int]], rounds: int) -> None:
    """In-process stage timings (CPU seconds of this process, and wall) for several sizes."""
    from threadpoolctl import threadpool_limits

    from leaderboard.bootstrap import bootstrap_thetas
    from leaderboard.bt import fit_bt
    from leaderboard.data import aggregate
    from leaderboard.elo import online_elo

    print(
        f"{'battles':>10} {'models':>6} {'pairs':>6} {'fit cpu':>8} {'boot/round cpu ms':>18} "
        f"{'boot wall s (2 thr)':>20} {'elo cpu s':>9}"
    )
    for n, m in grid:
        a, b, o, _ = simulate(n, m, 1)
        pc = aggregate(a, b, o, m)
        t = time.process_time()
        with threadpool_limits(1, user_api="blas"):  # as compute_leaderboard does
            fit = fit_bt(pc)
        fit_cpu = time.process_time() - t
        t, w = time.process_time(), time.perf_counter()
        bootstrap_thetas(pc, fit, np.random.default_rng(0), rounds=rounds, threads=2)
        boot_cpu, boot_wall = time.process_time() - t, time.perf_counter() - w
        t = time.process_time()
        online_elo(a, b, o, m)
        elo_cpu = time.process_time() - t
        print(
            f"{n:>10,} {m:>6} {len(pc.i):>6} {fit_cpu:>8.3f} {1e3 * boot_cpu / rounds:>18.2f} "
            f"{boot_wall:>20.2f} {elo_cpu:>9.2f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--battles", type=int, default=2_000_000)
    ap.add_argument("--models", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--formats", default="csv,json")
    ap.add_argument("--extra", default="", help="extra arguments for `arena leaderboard fit`")
    ap.add_argument("--scaling", action="store_true", help="print in-process stage timings for several sizes")
    args = ap.parse_args()
    if args.scaling:
        grid = [(500_000, 200), (1_000_000, 200), (2_000_000, 200), (2_000_000, 50), (2_000_000, 400)]
        scaling(grid, min(args.rounds, 100))
        return
    work = args.dir or Path(tempfile.mkdtemp(prefix="lb-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    a, b, o, true = simulate(args.battles, args.models, args.seed)
    print(f"{args.battles:,} battles, {args.models} models, ties {np.mean(o >= 2):.0%}; files in {work}")
    for fmt in args.formats.split(","):
        path = work / f"battles.{fmt}"
        if not path.exists():
            (write_csv if fmt == "csv" else write_json)(path, a, b, o, args.models)
            print(
                f"wrote {path.name} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s"
            )
        out = work / f"ratings-{fmt}.json"
        wall, peak = run_fit(path, out, args.rounds, args.extra.split())
        print(
            f"[{fmt}] arena leaderboard fit: {wall:.2f} s wall, peak RSS {peak:.0f} MiB "
            f"({args.rounds} bootstrap rounds + CIs + online Elo)"
        )
        check(out, true, args.models)


if __name__ == "__main__":
    main()
