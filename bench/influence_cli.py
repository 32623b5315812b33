"""The whole ``arena leaderboard influence FILE`` command (read + fit + search) on the synthetic arena of
bench/influence.py, written as a battles file, timed as an operator runs it (a fresh process).

    .venv/bin/python bench/influence_cli.py                         # 1.67M battles, FastChat JSON
    .venv/bin/python bench/influence_cli.py --format csv            # our export's CSV layout
    .venv/bin/python bench/influence_cli.py --battles 200000 --target top5

The file is written to --dir (default: a temporary directory, removed afterwards). Prints the file size,
the command's wall time (process start to exit, imports included), its own read / search split, the
peak RSS of the child process, and its output.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from influence import simulate_arena  # noqa: E402  (the arena of bench/influence.py)

WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")


def write_json(path: Path, models: list[str], a: np.ndarray, b: np.ndarray, o: np.ndarray) -> None:
    """FastChat clean_battle layout: a JSON array of flat objects, in time order."""
    with path.open("w") as fh:
        fh.write("[")
        for k in range(len(a)):
            row = {
                "model_a": models[a[k]],
                "model_b": models[b[k]],
                "winner": WINNERS[o[k]],
                "judge": f"arena_user_{k % 261_254}",
                "turn": 1,
                "anony": True,
                "language": "English",
                "tstamp": 1_700_000_000.0 + k,
            }
            fh.write(("," if k else "") + json.dumps(row))
        fh.write("]\n")


def write_csv(path: Path, models: list[str], a: np.ndarray, b: np.ndarray, o: np.ndarray) -> None:
    """Our export's layout (``arena export votes``), in vote order."""
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["vote_id", "battle_id", "tstamp", "mode", "model_a", "model_b", "winner", "turn"]
            + ["excluded_reason", "judge", "tags"]
        )
        for k in range(len(a)):
            ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_700_000_000 + k))
            w.writerow(
                [
                    k + 1,
                    k + 1,
                    ts,
                    "anony",
                    models[a[k]],
                    models[b[k]],
                    WINNERS[o[k]],
                    1,
                    "",
                    f"c{k % 9973}",
                    "",
                ]
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=129)
    ap.add_argument("--battles", type=int, default=1_670_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--format", choices=("json", "csv"), default="json")
    ap.add_argument("--target", default="top1")
    ap.add_argument("--dir", type=Path, help="where to write the battles file (default: a temporary dir)")
    args = ap.parse_args()
    a, b, o, _ = simulate_arena(args.models, args.battles, args.seed)
    models = [f"model-{k:03d}" for k in range(args.models)]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / f"battles.{args.format}"
        t0 = time.perf_counter()
        (write_json if args.format == "json" else write_csv)(path, models, a, b, o)
        print(
            f"wrote {args.battles:,} battles to {path.name}: {path.stat().st_size / 2**20:.0f} MiB "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        out = Path(tmp) / "set.json"
        arena = Path(sys.executable).with_name("arena")
        cmd = [
            str(arena),
            "leaderboard",
            "influence",
            str(path),
            "--target",
            *args.target.split(),
            "--out",
            str(out),
        ]
        print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(proc.stdout.rstrip())
        if proc.returncode:
            print(proc.stderr, file=sys.stderr)
            raise SystemExit(proc.returncode)
        got = json.loads(out.read_text())
        print(
            f"whole command: {wall:.1f} s wall (process start to exit), peak RSS {peak:.0f} MiB; "
            f"set of {got['n_removed']} votes in {len(got['groups'])} groups"
        )
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
