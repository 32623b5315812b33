"""Benchmark ``arena leaderboard recompute`` on a database holding N votes (SQLite and PostgreSQL).

    .venv/bin/python bench/leaderboard_recompute.py --votes 1000000 --models 100 --backend sqlite
    .venv/bin/python bench/leaderboard_recompute.py --votes 1000000 --models 100 --backend postgres
    .venv/bin/python bench/leaderboard_recompute.py --votes 1000000 --models 100 --incremental

Creates a fresh database (SQLite file in --dir, or a randomly named PostgreSQL database that is dropped
afterwards unless --keep), migrates it, bulk-loads synthetic battles (90% anonymous, 5% excluded, style
totals on every conversation, a "code" tag on 30%), then runs ``arena leaderboard recompute`` in a fresh
process (default: 1000 bootstrap rounds, style control with sandwich intervals, online Elo) and prints
its wall time and peak RSS. With ``--incremental`` (bench/leaderboard_incremental.py): build the tallies
once, add ``--new`` votes (default 1000), and time the incremental recompute in-process, by stage.
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.leaderboard
from arena_app.storage.migrate import upgrade  # noqa: E402
from tests.leaderboard.seed import simulate_battles  # noqa: E402

OUTCOMES = ("model_a", "model_b", "tie", "tie (bothbad)")
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def simulate(n: int, m: int, seed: int = 0) -> dict[str, np.ndarray]:
    """The synthetic arena the database tests use (tests/leaderboard/seed.py), as flat arrays."""
    d = simulate_battles(n, m, seed)
    return {
        "a": d.a,
        "b": d.b,
        "o": d.o,
        "sa": d.style_a,
        "sb": d.style_b,
        "named": d.mode == "named",
        "excluded": d.excluded,
        "turns": d.turns,
        "code": d.code,
    }


def rows(d: dict[str, np.ndarray], m: int, start: int, stop: int):
    """(conversations, battles, votes, tags) tuples for battles start..stop-1."""
    names = [f"model-{i:03d}" for i in range(m)]
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    conv, bat, vot, tag = [], [], [], []
    for i in range(start, stop):
        mode = "named" if d["named"][i] else "anony"
        ts = (t0 + timedelta(seconds=i)).isoformat(sep=" ")
        for side, key, style in ((1, "a", "sa"), (2, "b", "sb")):
            st = d[style][i]
            conv.append(
                (
                    2 * i + side,
                    mode,
                    names[d[key][i]],
                    f"s{i}",
                    "h",
                    ts,
                    int(st[0]),
                    int(st[1]),
                    int(st[2]),
                    int(st[3]),
                )
            )
        turns = int(d["turns"][i])
        bat.append(
            (
                i + 1,
                mode,
                names[d["a"][i]],
                names[d["b"][i]],
                2 * i + 1,
                2 * i + 2,
                f"s{i}",
                "h",
                ts,
                turns,
                0,
            )
        )
        vot.append(
            (
                i + 1,
                i + 1,
                OUTCOMES[d["o"][i]],
                turns,
                "identity_leak" if d["excluded"][i] else None,
                f"s{i}",
                f"c{i % 5000}",
                ts,
            )
        )
        if d["code"][i]:
            tag.append((i + 1, "code"))
    return conv, bat, vot, tag


COLS = {
    "conversations": "id, mode, model_name, session_id, client_hash, created_at, "
    "answer_tokens, header_count, list_count, bold_count",
    "battles": "id, mode, model_a, model_b, conversation_a_id, conversation_b_id, session_id, client_hash, "
    "created_at, turn_count, regenerations",
    "votes": "id, battle_id, outcome, turn_count, excluded_reason, session_id, client_hash, created_at",
    "battle_tags": "battle_id, tag",
}


def load_sqlite(
    path: Path, d: dict[str, np.ndarray], m: int, batch: int = 100_000, start: int = 0, analyze: bool = True
) -> None:
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    n = len(d["a"])
    for s in range(start, n, batch):
        for table, data in zip(COLS, rows(d, m, s, min(n, s + batch)), strict=True):
            marks = ",".join("?" * len(COLS[table].split(",")))
            con.executemany(f"INSERT INTO {table} ({COLS[table]}) VALUES ({marks})", data)
        con.commit()
    if analyze:
        con.execute("ANALYZE")
        con.commit()
    con.close()


def load_postgres(
    url: str, d: dict[str, np.ndarray], m: int, batch: int = 100_000, start: int = 0, analyze: bool = True
) -> None:
    import psycopg

    u = make_url(url)
    with psycopg.connect(host=u.host, port=u.port, user=u.username, dbname=u.database) as con:
        n = len(d["a"])
        for s in range(start, n, batch):
            for table, data in zip(COLS, rows(d, m, s, min(n, s + batch)), strict=True):
                with con.cursor().copy(f"COPY {table} ({COLS[table]}) FROM STDIN") as cp:
                    for r in data:
                        cp.write_row(r)
            con.commit()
        for table in ("conversations", "battles", "votes"):
            con.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            )
        if analyze:
            con.execute("ANALYZE")
        con.commit()


def run(url: str, extra: list[str]) -> tuple[float, float, str]:
    cmd = [
        sys.executable,
        "-m",
        "arena_app.cli.main",
        "leaderboard",
        "recompute",
        "--database-url",
        url,
        "--limit",
        "5",
        *extra,
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"recompute failed: {proc.stderr}")
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--votes", type=int, default=1_000_000)
    ap.add_argument("--models", type=int, default=100)
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--url", help="reuse an already loaded database instead of creating one")
    ap.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    ap.add_argument("--extra", default="", help="extra arguments for `arena leaderboard recompute`")
    ap.add_argument(
        "--incremental",
        action="store_true",
        help="instead: build the incremental tallies, add --new votes, time the incremental recompute",
    )
    ap.add_argument("--new", type=int, default=1000, help="votes added before the incremental recompute")
    args = ap.parse_args()
    admin = None
    url = args.url
    try:  # a failure or Ctrl-C while loading must not leave a multi-GB database behind
        if url is None:
            d = simulate(args.votes, args.models)
            t0 = time.perf_counter()
            if args.backend == "sqlite":
                work = args.dir or Path(tempfile.mkdtemp(prefix="lb-recompute-"))
                work.mkdir(parents=True, exist_ok=True)
                path = work / f"arena-{args.votes}.db"
                path.unlink(missing_ok=True)
                url = f"sqlite:///{path}"
                upgrade(url)
                load_sqlite(path, d, args.models)
            else:
                db_name = f"arena_bench_{uuid.uuid4().hex[:10]}"
                admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
                with admin.connect() as c:
                    c.execute(text(f'CREATE DATABASE "{db_name}"'))
                url = make_url(PG_ADMIN).set(database=db_name).render_as_string(hide_password=False)
                upgrade(url)
                load_postgres(url, d, args.models)
            print(
                f"loaded {args.votes:,} battles/votes ({args.models} models) into {args.backend} "
                f"in {time.perf_counter() - t0:.0f} s"
            )
        if args.incremental:
            from bench.leaderboard_incremental import run_incremental

            upgrade(url)  # a kept database may predate the tallies' tables
            backend = "postgres" if url.startswith("postgresql") else "sqlite"
            append = load_sqlite if backend == "sqlite" else load_postgres
            run_incremental(url, args.models, args.new, simulate, append)
            return
        wall, peak, out = run(url, args.extra.split())
        print(out.strip())
        print(f"[{args.backend}] arena leaderboard recompute: {wall:.2f} s wall, peak RSS {peak:.0f} MiB")
    finally:
        if admin is not None:
            if args.keep:
                print(f"kept the database: --url {url}")
            elif url is not None:
                with admin.connect() as c:
                    c.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
