"""Load benchmark: closed-loop users through Gradio's real queue API against ``arena serve`` on loopback.

    .venv/bin/python bench/load.py --backend sqlite --users 1 10 50 100
    .venv/bin/python bench/load.py --backend postgres --users 10 --tokens 200
    .venv/bin/python bench/load.py --backend postgres --users 20 50 --replicas 2 --json /tmp/scaling.json

Per run: a fresh database (a temporary SQLite file, or a new PostgreSQL database on 127.0.0.1:5432 that
is dropped afterwards), the fake model servers (``bench/load_backend.py``, two models streaming
``--tokens`` words ``--token-delay-ms`` apart), ``arena serve`` as a subprocess (or, with ``--replicas
N``, ``deploy/cluster.py``'s N replicas behind nginx, compared with 1 replica behind the same nginx) and
the simulated users of ``bench/load_users.py``. Prints battles/s, app core-seconds per battle (utime +
stime of every app process from /proc over the window), TTFT / answer / vote latency p50 and p99, votes
acknowledged against vote rows in the database (lost, duplicate), errors by kind and the load average.
Everything runs on 127.0.0.1, is bounded in time, and every process it started is ended on exit, Ctrl+C
or SIGTERM included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root
from bench.load_procs import (  # noqa: E402
    CHILD_ENV,
    Database,
    ProcessSet,
    PySpy,
    children_of,
    cpu_of,
    start_app,
    start_backend,
    write_endpoints,
)
from bench.load_users import DriveResult, DriveSpec, drive  # noqa: E402


@dataclass
class RunReport:
    backend: str
    users: int
    replicas: int  # 0: one `arena serve` without nginx
    tokens: int
    token_delay_ms: float
    window_s: float
    battles: int
    battles_per_s: float
    app_core_s_per_battle: float | None
    app_cores_busy: float
    #: nginx, fake backend, this driver, PostgreSQL backends of the app (a lower bound, see make_measure)
    other_core_s_per_battle: dict[str, float | None]
    ttft_s: dict[str, float | None]
    answer_s: dict[str, float | None]
    vote_s: dict[str, float | None]
    sse_events_per_send: float | None  # mean number of SSE messages of one battle_send
    votes_acknowledged: int
    vote_rows: int
    votes_lost: int
    votes_duplicate: int
    votes_stored_unacknowledged: int
    errors: dict[str, int]
    unfinished_users: int
    loadavg_1min: tuple[float, float]
    cpu_count: int = field(default_factory=lambda: os.cpu_count() or 0)


def percentiles(values: list[float]) -> dict[str, float | None]:
    """Nearest-rank p50 and p99."""
    ordered = sorted(values)

    def rank(q: float) -> float | None:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else None

    return {"p50": rank(0.50), "p99": rank(0.99), "n": float(len(ordered))}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_measure(groups: dict[str, Callable[[], list[int]]]) -> Callable[[], dict[str, Any]]:
    """A snapshot function: CPU seconds per pid for every group, the driver's own CPU, the load average."""

    def measure() -> dict[str, Any]:
        snap: dict[str, Any] = {name: cpu_of(pids()) for name, pids in groups.items()}
        snap["driver"] = {os.getpid(): time.process_time()}
        snap["loadavg"] = os.getloadavg()[0]
        return snap

    return measure


def cpu_delta(snaps: dict[str, Any], group: str) -> float | None:
    """CPU used by a group in the window; processes that appeared meanwhile count from zero."""
    if "open" not in snaps or "close" not in snaps:
        return None
    before, after = snaps["open"].get(group, {}), snaps["close"].get(group, {})
    if not after:
        return None
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def report(
    args: argparse.Namespace, users: int, replicas: int, db: Database, result: DriveResult
) -> RunReport:
    snaps = result.snapshots
    app = cpu_delta(snaps, "app") or 0.0
    per = lambda x: None if x is None or not result.battles else x / result.battles  # noqa: E731
    rows = db.votes_by_marker()
    acked = result.acked
    return RunReport(
        backend=args.backend,
        users=users,
        replicas=replicas,
        tokens=args.tokens,
        token_delay_ms=args.token_delay_ms,
        window_s=result.window_s,
        battles=result.battles,
        battles_per_s=result.battles / result.window_s if result.window_s else 0.0,
        app_core_s_per_battle=per(app),
        app_cores_busy=app / result.window_s if result.window_s else 0.0,
        other_core_s_per_battle={
            g: per(cpu_delta(snaps, g)) for g in ("nginx", "backend", "driver", "postgres>=")
        },
        ttft_s=percentiles(result.ttft),
        answer_s=percentiles(result.answer),
        vote_s=percentiles(result.vote),
        sse_events_per_send=sum(result.send_events) / len(result.send_events) if result.send_events else None,
        votes_acknowledged=sum(acked.values()),
        vote_rows=sum(rows.values()),
        votes_lost=sum(1 for m in acked if rows.get(m, 0) == 0),
        votes_duplicate=sum(n - 1 for n in rows.values() if n > 1)
        + sum(n - 1 for n in acked.values() if n > 1),
        votes_stored_unacknowledged=sum(1 for m in rows if m not in acked),
        errors=dict(result.errors.most_common()),
        unfinished_users=result.unfinished,
        loadavg_1min=(snaps.get("open", {}).get("loadavg", 0.0), snaps.get("close", {}).get("loadavg", 0.0)),
    )


def run_one(
    args: argparse.Namespace,
    users: int,
    replicas: int,
    backend_urls: list[str],
    first_word: str,
    pids: dict[str, int],
) -> RunReport:
    """One run: fresh database, fresh app process(es), the users, then the vote check."""
    if args.workdir is not None:  # kept: logs, SQLite file, nginx prefix
        args.workdir.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=f"{args.backend}-u{users}-r{replicas}-", dir=args.workdir))
        return _run_in(args, users, replicas, backend_urls, first_word, pids, workdir)
    with tempfile.TemporaryDirectory(prefix="arena-load-") as tmp:
        return _run_in(args, users, replicas, backend_urls, first_word, pids, Path(tmp))


def _run_in(
    args: argparse.Namespace,
    users: int,
    replicas: int,
    backend_urls: list[str],
    first_word: str,
    pids: dict[str, int],
    workdir: Path,
) -> RunReport:
    endpoints = write_endpoints(workdir / "endpoints.json", backend_urls)
    with ProcessSet() as procs, Database(args.backend, workdir) as db:
        cluster_info = None
        groups: dict[str, Callable[[], list[int]]] = {
            "backend": lambda: [pids["backend"]],
            # a lower bound: backends that closed inside the window (pool overflow churn) are not seen
            "postgres>=": db.server_pids,
        }
        try:
            if replicas:
                from deploy import cluster

                cluster_info = cluster.start(
                    workdir / "cluster",
                    db.url,
                    replicas=replicas,
                    listen_port=0,
                    endpoints=endpoints,
                    migrate=False,
                    env=CHILD_ENV,  # rate limits off, as for the single process (one client hash)
                )
                base_url = cluster_info.url
                app_pids = [r.pid for r in cluster_info.replicas]
                nginx_pid = cluster_info.nginx.pid
                groups["nginx"] = lambda: [nginx_pid, *children_of(nginx_pid)]
            else:
                port = free_port()
                app_pids = [start_app(procs, port, endpoints, db.url, workdir / "arena-serve.log").pid]
                base_url = f"http://127.0.0.1:{port}"
            groups["app"] = lambda: app_pids
            spec = DriveSpec(
                base_url=base_url,
                users=users,
                first_word=first_word,
                warmup=args.warmup,
                duration=None if args.battles else args.duration,
                battles=args.battles,
                seed=args.seed,
            )
            hooks = None
            if args.py_spy is not None:  # the first app process only
                out = args.py_spy.with_name(f"{args.py_spy.stem}-{args.backend}-u{users}-r{replicas}.txt")
                spy = PySpy(procs, app_pids[0], out, args.py_spy_rate)
                hooks = (spy.start, spy.stop)
            result = asyncio.run(drive(spec, make_measure(groups), hooks))
        finally:
            if cluster_info is not None:
                from deploy import cluster

                cluster.stop(cluster_info)
            procs.close()  # the app before the vote check: everything it acknowledged is committed
        return report(args, users, replicas, db, result)


def fmt(p: dict[str, float | None], unit: float = 1.0, digits: int = 2) -> str:
    return "/".join("n/a" if p[k] is None else f"{(p[k] or 0) * unit:.{digits}f}" for k in ("p50", "p99"))


def print_report(r: RunReport) -> None:
    where = f"{r.replicas} replica(s) behind nginx" if r.replicas else "one arena serve"
    per = r.app_core_s_per_battle
    others = ", ".join(f"{k} {v:.3f}" for k, v in r.other_core_s_per_battle.items() if v is not None)
    lost = f"lost {r.votes_lost}, duplicate {r.votes_duplicate}"
    lost += f", stored unacknowledged {r.votes_stored_unacknowledged}"
    unfinished = f"; {r.unfinished_users} users unfinished" if r.unfinished_users else ""
    print(
        f"\n== {r.backend}, {r.users} users, {r.tokens} tokens x {r.token_delay_ms:g} ms, {where}: "
        f"{r.window_s:.1f} s window\n"
        f"  battles/s {r.battles_per_s:.2f} ({r.battles} battles); app CPU "
        f"{'n/a' if per is None else f'{per:.3f}'} core-s/battle ({r.app_cores_busy:.2f} cores busy); "
        f"others core-s/battle: {others}\n"
        f"  TTFT p50/p99 {fmt(r.ttft_s)} s; answer p50/p99 {fmt(r.answer_s)} s; "
        f"vote p50/p99 {fmt(r.vote_s, 1000, 0)} ms; {r.sse_events_per_send or 0:.1f} SSE messages per send\n"
        f"  votes: {r.votes_acknowledged} acknowledged, {r.vote_rows} rows ({lost})\n"
        f"  errors: {r.errors or 'none'}{unfinished}\n"
        f"  load average (1 min) {r.loadavg_1min[0]:.2f} -> {r.loadavg_1min[1]:.2f} on {r.cpu_count} cores",
        flush=True,
    )


def print_summary(reports: list[RunReport]) -> None:
    header = "backend | users | replicas | battles/s | app core-s/battle | TTFT p50/p99 s | vote p50/p99 ms"
    print(f"\n| {header} | lost/dup votes | errors | load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in reports:
        per = "n/a" if r.app_core_s_per_battle is None else f"{r.app_core_s_per_battle:.3f}"
        cells = [r.backend, r.users, r.replicas or "-", f"{r.battles_per_s:.2f}", per, fmt(r.ttft_s)]
        cells += [fmt(r.vote_s, 1000, 0), f"{r.votes_lost}/{r.votes_duplicate}", sum(r.errors.values())]
        cells.append(f"{r.loadavg_1min[0]:.1f}-{r.loadavg_1min[1]:.1f}")
        print("| " + " | ".join(str(c) for c in cells) + " |")
    singles = {r.users: r for r in reports if r.replicas == 1}
    for r in reports:
        base = singles.get(r.users)
        if r.replicas > 1 and base is not None and base.battles_per_s:
            ratio = r.battles_per_s / base.battles_per_s
            print(
                f"scaling at {r.users} users: {r.replicas} replicas {r.battles_per_s:.2f} battles/s vs "
                f"1 replica {base.battles_per_s:.2f} (both behind nginx): {ratio:.2f}x"
            )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--users", nargs="+", default=["10"], help="one run per value (space or comma separated)")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--duration", type=float, default=30.0, help="measurement window in seconds")
    group.add_argument("--battles", type=int, help="end the window at this many acknowledged votes")
    ap.add_argument("--warmup", type=float, default=10.0, help="seconds of traffic before the window opens")
    ap.add_argument("--tokens", type=int, default=20, help="words per fake answer")
    ap.add_argument("--token-delay-ms", type=float, default=5.0)
    ap.add_argument("--replicas", type=int, default=0, help="N replicas behind nginx (PostgreSQL), vs 1")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="write every run's figures to this file")
    ap.add_argument(
        "--py-spy",
        type=Path,
        metavar="PATH",
        help="profile an app process over each window: PATH-<backend>-u<users>-r<replicas>.txt (raw stacks)",
    )
    ap.add_argument("--py-spy-rate", type=int, default=100, help="py-spy samples per second")
    ap.add_argument("--workdir", type=Path, help="keep logs and SQLite files here (default: a temp dir)")
    args = ap.parse_args(argv)
    args.users = [int(u) for item in args.users for u in str(item).split(",") if u]
    if not args.users or not all(1 <= u <= 1000 for u in args.users):
        ap.error("--users: each value must be 1..1000")
    if not 1 <= args.duration <= 3600 or not 0 <= args.warmup <= 600:
        ap.error("--duration must be 1..3600 s and --warmup 0..600 s")
    if args.battles is not None and not 1 <= args.battles <= 1_000_000:
        ap.error("--battles must be 1..1000000")
    if not 1 <= args.tokens <= 10_000 or args.token_delay_ms < 0:
        ap.error("--tokens must be 1..10000 and --token-delay-ms >= 0")
    if args.replicas and args.backend != "postgres":
        ap.error("--replicas needs --backend postgres (replicas share one PostgreSQL database)")
    if not 0 <= args.replicas <= 16:
        ap.error("--replicas must be 0..16")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def on_sigterm(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored (&)
    layouts = sorted({1, args.replicas}) if args.replicas else [0]
    reports: list[RunReport] = []
    with ProcessSet() as procs, tempfile.TemporaryDirectory(prefix="arena-load-backend-") as tmp:
        urls, first_word, backend_pid = start_backend(
            procs, args.tokens, args.token_delay_ms, Path(tmp) / "b.log"
        )
        for users in args.users:
            for replicas in layouts:
                r = run_one(args, users, replicas, urls, first_word, {"backend": backend_pid})
                print_report(r)
                reports.append(r)
                if args.json:
                    args.json.write_text(json.dumps([asdict(x) for x in reports], indent=2))
    print_summary(reports)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted: every started process was stopped", file=sys.stderr)
        sys.exit(130)
