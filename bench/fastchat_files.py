"""Benchmark the battles-file readers on FastChat-scale files (issue 12's goals).

    .venv/bin/python bench/fastchat_files.py --dir /tmp/fcbench            # all three, default sizes
    .venv/bin/python bench/fastchat_files.py --dir /tmp/fcbench --only nested --battles 200000

Writes (once; kept in --dir and reused) and measures, each in a fresh process under /usr/bin/time:

- ``nested``: a clean_battle JSON array as FastChat writes it (``json.dump(indent=2)``) with
  ``conv_metadata`` (header/list/bold dicts per side), ``category_tag`` and ``is_code``: 2M battles;
  ``arena leaderboard fit FILE --style-control --rounds 1000 --no-fragility`` (goal <= 30 s, <= 1.5 GB);
- ``csv-random``: our CSV export, 1M rows in random order: ``read_battles`` alone (goal <= 2 s);
- ``csv-fastchat``: 2M rows with FastChat's columns ``model_a,model_b,winner,tstamp`` (unix seconds,
  in time order): ``arena leaderboard fit FILE --rounds 1000 --no-fragility`` (goal <= 6 s).

Prints wall time, peak RSS and the load average before each run (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from leaderboard_fit import WINNERS, names, simulate, write_csv

ROOT = Path(__file__).resolve().parents[1]
ARENA = [sys.executable, "-m", "arena_app.cli.main"]

ELEMENT = """  {
    "question_id": "%s",
    "model_a": "%s",
    "model_b": "%s",
    "winner": "%s",
    "judge": "arena_user_%d",
    "turn": %d,
    "anony": true,
    "language": "%s",
    "tstamp": %.4f,
    "conv_metadata": {
      "sum_user_tokens": %d,
      "sum_assistant_a_tokens": %d,
      "sum_assistant_b_tokens": %d,
      "context_a_tokens": %d,
      "context_b_tokens": %d,
      "turns": %d,
      "header_count_a": {"h1": %d, "h2": %d, "h3": 0, "h4": 0, "h5": 0, "h6": 0},
      "list_count_a": {"ordered": %d, "unordered": %d},
      "bold_count_a": {"**": %d, "__": 0},
      "header_count_b": {"h1": %d, "h2": %d, "h3": 0, "h4": 0, "h5": 0, "h6": 0},
      "list_count_b": {"ordered": %d, "unordered": %d},
      "bold_count_b": {"**": %d, "__": 0}
    },
    "is_code": %s,
    "category_tag": {
      "criteria_v0.1": {"specificity": true, "domain_knowledge": %s, "complexity": false,
        "problem_solving": true, "creativity": false, "technical_accuracy": true, "real_world": true},
      "if_v0.1": {"if": false, "score": 1},
      "math_v0.1": {"math": false}
    }
  }"""


def write_nested(path: Path, n: int, m: int, seed: int) -> None:
    a, b, o, _ = simulate(n, m, seed)
    rng = np.random.default_rng(seed + 1)
    nm = names(m)
    langs = ["English", "Chinese", "German", "Russian"]
    with path.open("w", encoding="utf-8") as fh:
        fh.write("[\n")
        step = 100_000
        for s in range(0, n, step):
            k = min(step, n - s)
            ints = rng.integers(0, 6, (k, 10)).tolist()
            toks = rng.integers(10, 1500, (k, 5)).tolist()
            parts = []
            for i in range(k):
                j = s + i
                c, t = ints[i], toks[i]
                parts.append(
                    ELEMENT
                    % (
                        f"{j:032x}", nm[a[j]], nm[b[j]], WINNERS[o[j]], j % 50_000, 1, langs[j % 4],
                        1.7e9 + j * 0.5, t[0], t[1], t[2], t[3], t[4], 1,
                        c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9],
                        "true" if j % 5 == 0 else "false", "true" if j % 3 == 0 else "false",
                    )
                )  # fmt: skip
            fh.write(("" if s == 0 else ",\n") + ",\n".join(parts))
        fh.write("\n]\n")


def write_fastchat_csv(path: Path, n: int, m: int, seed: int) -> None:
    a, b, o, _ = simulate(n, m, seed)
    nm = np.array(names(m))
    ts = np.char.mod("%.3f", 1.7e9 + np.arange(n) * 0.5)
    with path.open("w", encoding="utf-8") as fh:
        fh.write("model_a,model_b,winner,tstamp\n")
        for s in range(0, n, 200_000):
            sl = slice(s, s + 200_000)
            rows = zip(nm[a[sl]], nm[b[sl]], WINNERS[o[sl]], ts[sl], strict=True)
            fh.write("".join(f"{x},{y},{w},{t}\n" for x, y, w, t in rows))


def shuffled_export(path: Path, n: int, m: int, seed: int) -> None:
    a, b, o, _ = simulate(n, m, seed)
    ordered = path.with_suffix(".ordered.csv")
    write_csv(ordered, a, b, o, m)
    lines = ordered.read_text().splitlines(keepends=True)
    body = lines[1:]
    np.random.default_rng(seed).shuffle(body)
    path.write_text(lines[0] + "".join(body))
    ordered.unlink()


def measure(label: str, argv: list[str]) -> None:
    load = os.getloadavg()
    out = subprocess.run(
        ["/usr/bin/time", "-f", "TIME %e s %M KiB", *argv], capture_output=True, text=True, cwd=ROOT
    )
    timing = [ln for ln in out.stderr.splitlines() if ln.startswith("TIME")]
    print(f"{label}: {timing[-1] if timing else out.stderr[-500:]} (load before {load[0]:.1f})")
    lines = [
        ln for ln in out.stdout.splitlines() if "rows read" in ln or "read_s" in ln or "style coef" in ln
    ]
    for ln in lines:
        print("   ", ln)
    if out.returncode:
        print(out.stdout[-2000:], out.stderr[-2000:])


READ_ONLY = (
    "import sys, time; from pathlib import Path; from arena_app.files.battle_files import read_battles; "
    "t = time.perf_counter(); fb = read_battles(Path(sys.argv[1])); "
    "print(f'read_s {time.perf_counter() - t:.2f} s, {len(fb.model_a):,} battles, {len(fb.models)} models')"
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", type=Path, default=Path("/tmp/fcbench"))
    p.add_argument("--only", choices=("nested", "csv-random", "csv-fastchat"))
    p.add_argument("--battles", type=int, help="battles per file (default 2M, 1M for csv-random)")
    p.add_argument("--models", type=int, default=150)
    args = p.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    for kind in ("nested", "csv-random", "csv-fastchat"):
        if args.only and kind != args.only:
            continue
        n = args.battles or (1_000_000 if kind == "csv-random" else 2_000_000)
        ext = "json" if kind == "nested" else "csv"
        path = args.dir / f"{kind}-{n}.{ext}"
        if not path.exists():
            writer = {
                "nested": write_nested,
                "csv-random": shuffled_export,
                "csv-fastchat": write_fastchat_csv,
            }
            writer[kind](path, n, args.models, 0)
        size = path.stat().st_size / 2**20
        if kind == "csv-random":
            measure(
                f"{kind} {n:,} rows, {size:,.0f} MiB, read_battles",
                [sys.executable, "-c", READ_ONLY, str(path)],
            )
            continue
        style = ["--style-control"] if kind == "nested" else []
        argv = [
            *ARENA,
            "leaderboard",
            "fit",
            str(path),
            "--rounds",
            "1000",
            "--no-fragility",
            *style,
            "--limit",
            "3",
        ]
        measure(f"{kind} {n:,} rows, {size:,.0f} MiB, fit --rounds 1000 {' '.join(style)}", argv)


if __name__ == "__main__":
    main()
