"""Benchmark ``arena export votes``: rows per second and peak memory for a large export.

    .venv/bin/python bench/export_votes.py --votes 200000 --backend sqlite
    .venv/bin/python bench/export_votes.py --votes 200000 --backend postgres --with-conversations

Creates a fresh database (SQLite file in a temporary directory, or a randomly named PostgreSQL database
dropped afterwards), migrates it, bulk-loads N battles with one vote each inside the database (the same
generator as the export tests; with --with-conversations also one user and one assistant message per side),
then runs ``arena export votes`` in a fresh process and prints rows/s and that process's peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "export"))

from export_seed import bulk_seed  # noqa: E402

from arena_app.storage.db import make_engine  # noqa: E402
from arena_app.storage.migrate import upgrade  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def add_messages(url: str) -> None:
    """One user message and one ~400-character answer per conversation, generated in SQL."""
    engine = make_engine(url)
    false = "false" if engine.dialect.name == "postgresql" else "0"
    answer = "'An answer with \"quotes\", commas, and a newline\n' || " + " || ".join(
        ["'lorem ipsum dolor '"] * 20
    )
    with engine.begin() as conn:
        for position, role, content in ((0, "user", "'question ' || id"), (1, "assistant", answer)):
            conn.execute(
                text(
                    "INSERT INTO messages (conversation_id, position, attempt, superseded, role, content, "
                    f"created_at, has_code) SELECT id, {position}, 0, {false}, '{role}', {content}, "
                    f"created_at, {false} FROM conversations"
                )
            )
    engine.dispose()


def run(url: str, votes: int, with_conversations: bool, out: Path) -> None:
    upgrade(url)
    engine = make_engine(url)
    start = time.perf_counter()
    bulk_seed(engine, votes)
    engine.dispose()
    if with_conversations:
        add_messages(url)
    print(f"seeded {votes} votes in {time.perf_counter() - start:.1f} s", flush=True)
    argv = [
        str(Path(sys.executable).with_name("arena")),
        "--database-url",
        url,
        "export",
        "votes",
        "--out",
        str(out),
        "--include-excluded",
    ]
    if with_conversations:
        argv.append("--with-conversations")
    start = time.perf_counter()
    subprocess.run(argv, check=True, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    size_mib = out.stat().st_size / 2**20
    print(
        f"{make_url(url).get_backend_name()}: exported {votes} votes "
        f"({'with' if with_conversations else 'without'} conversations, {size_mib:.0f} MiB) "
        f"in {seconds:.1f} s "
        f"= {votes / seconds:,.0f} rows/s (process incl. ~1-2 s start-up); peak RSS {peak_mib:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--votes", type=int, default=200_000)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--with-conversations", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="arena-export-bench-") as tmp:
        out = Path(tmp) / "votes.csv"
        if args.backend == "sqlite":
            run(f"sqlite:///{tmp}/bench.db", args.votes, args.with_conversations, out)
            return
        name = f"arena_bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run(
                make_url(PG_ADMIN).set(database=name).render_as_string(False),
                args.votes,
                args.with_conversations,
                out,
            )
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
