"""Overhead of the per-client rate-limit check per request, on SQLite and PostgreSQL.

    .venv/bin/python bench/rate_limit.py --backend sqlite
    .venv/bin/python bench/rate_limit.py --backend postgres

Creates a fresh database (SQLite file in a temporary folder, or a randomly named PostgreSQL database,
dropped afterwards), migrates it and bulk-loads ``--battles`` battles and as many votes spread over
``--clients`` client hashes and the last 30 days, plus ``--recent`` battles and votes of the measured
client in the last hour (59 by default: a 60/hour rule then reads 60 index entries, the most an allowed
request reads). Each request is what the services do: one transaction that takes the per-client lock
(PostgreSQL), inserts the guarded row (a battle with its two conversations, or a vote) and runs the
check; it is rolled back, so the budget stays as seeded. The overhead is the time of the lock and the
check (timed around them, after the connection was checked out), per request, for the limits given by
``--limits``; the whole request transaction is printed beside it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from arena_app.services.errors import RateLimited  # noqa: E402
from arena_app.services.rate_limits import RateLimiter  # noqa: E402
from arena_app.storage import api  # noqa: E402
from arena_app.storage.db import make_engine, make_session_factory  # noqa: E402
from arena_app.storage.migrate import upgrade  # noqa: E402
from arena_app.storage.models import Battle, Conversation, Vote  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ME = "c" * 64


def seed(url: str, battles: int, clients: int, recent: int) -> None:
    engine = make_engine(url)
    now = datetime.now(UTC)
    total = battles + recent
    with engine.begin() as conn:
        for start in range(0, total, 5000):
            stop = min(total, start + 5000)
            convs, bats, votes = [], [], []
            for i in range(start, stop):
                mine = i >= battles
                client = ME if mine else f"{i % clients:064x}"
                at = now - timedelta(
                    seconds=(i - battles) * 50 + 60 if mine else 3600 + (i * 977) % 2_592_000
                )
                for side in (0, 1):
                    convs.append(
                        {"id": 2 * i + side + 1, "mode": "anony", "model_name": f"m{side}", "session_id": "s"}
                        | {"client_hash": client, "created_at": at}
                    )
                bats.append(
                    {"id": i + 1, "mode": "anony", "model_a": "m0", "model_b": "m1", "session_id": "s"}
                    | {"conversation_a_id": 2 * i + 1, "conversation_b_id": 2 * i + 2}
                    | {"client_hash": client, "created_at": at}
                )
                votes.append(
                    {"battle_id": i + 1, "outcome": "tie", "turn_count": 1, "session_id": "s"}
                    | {"client_hash": client, "created_at": at}
                )
            conn.execute(insert(Conversation), convs)
            conn.execute(insert(Battle), bats)
            conn.execute(insert(Vote), votes)
        if engine.dialect.name == "postgresql":
            for table in ("conversations", "battles", "votes"):  # ids were given explicitly
                conn.execute(text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"))
            conn.execute(text("ANALYZE"))
    engine.dispose()


def measure(url: str, action: str, limits: str, requests: int) -> dict[str, list[float]]:
    """Per request, in seconds: ``lock``, ``check`` (the two rate-limit steps), ``select1`` (one trivial
    round trip in the same transaction, the machine's baseline) and ``total`` (the whole transaction);
    ``refused``: one entry per refused request."""
    engine = make_engine(url)
    sf = make_session_factory(engine)
    limiter = RateLimiter.of(action, limits)
    out: dict[str, list[float]] = {"lock": [], "check": [], "select1": [], "total": [], "refused": []}
    for _ in range(requests):
        t0 = time.perf_counter()
        with sf() as s:
            s.connection()  # the pool checkout (and PostgreSQL's pre-ping) belongs to the request anyway
            a = time.perf_counter()
            limiter.lock(s, ME)
            out["lock"].append(time.perf_counter() - a)
            if action == "battle":
                own = api.create_battle(
                    s, mode="anony", model_a="m0", model_b="m1", session_id="s", client_hash=ME
                ).id
            else:
                own = _vote(s)
            b = time.perf_counter()
            try:
                limiter.check(s, ME, own)
            except RateLimited:
                out["refused"].append(1.0)
            out["check"].append(time.perf_counter() - b)
            c = time.perf_counter()
            s.execute(text("SELECT 1"))
            out["select1"].append(time.perf_counter() - c)
            s.rollback()
        out["total"].append(time.perf_counter() - t0)
    engine.dispose()
    return out


def _vote(s: Session) -> int:
    """A vote row for the measured client (on a fresh battle: one vote per battle)."""
    battle = api.create_battle(s, mode="anony", model_a="m0", model_b="m1", session_id="s", client_hash="x")
    return api.record_vote(
        s, battle_id=battle.id, outcome="tie", turn_count=1, session_id="s", client_hash=ME
    ).id


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--battles", type=int, default=200_000)
    ap.add_argument("--clients", type=int, default=10_000)
    ap.add_argument("--recent", type=int, default=59)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--limits", default="60/hour", help="the rule(s), e.g. '10/minute; 60/hour; 500/day'")
    args = ap.parse_args()

    tmp = tempfile.TemporaryDirectory()
    admin = None
    if args.backend == "sqlite":
        url = f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    else:
        name = f"arena_bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        t = time.perf_counter()
        seed(url, args.battles, args.clients, args.recent)
        seeded = time.perf_counter() - t
        print(
            f"{args.backend}: {args.battles} battles and votes over {args.clients} clients, "
            f"{args.recent} of the measured client in the last hour (seeded in {seeded:.1f} s)"
        )
        for action in ("battle", "vote"):
            m = {
                k: [x * 1000 for x in v] for k, v in measure(url, action, args.limits, args.requests).items()
            }
            overhead = [lk + ck for lk, ck in zip(m["lock"], m["check"], strict=True)]
            p50 = {k: statistics.median(v) for k, v in m.items() if v}
            print(
                f"  {action} limit {args.limits!r}: overhead (lock + check) p50 "
                f"{statistics.median(overhead):.3f} ms, p99 {pct(overhead, 0.99):.3f} ms "
                f"(lock p50 {p50['lock']:.3f}, check p50 {p50['check']:.3f}); one SELECT 1 round trip "
                f"p50 {p50['select1']:.3f} ms; whole request p50 {p50['total']:.2f} ms; "
                f"{len(m['refused'])}/{args.requests} refused"
            )
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
