"""Cost of streaming battle answers through the services, on loopback (real registry, openai SDK, SQLite).

    .venv/bin/python bench/battle_streams.py --battles 16 --idle-seconds 5

1. Threads: the threads a battle turn starts (fake-server threads excluded), at their peak.
2. Idle cost: ``--battles`` concurrent battle turns (two answers each) whose server stalls after the first
   chunk; prints the CPU time this process spends per second while they wait.
3. Stop: sets every battle's cancel (what the Stop button does) and prints how long until every upstream
   connection was closed and every turn had ended.
4. Throughput: one battle turn of ``--chunks`` chunks per side; prints the CPU time per chunk of the
   consumer side (UI updates are coalesced to ``MIN_UPDATE_INTERVAL_S``; the count of updates is printed).
Figures are machine- and load-dependent.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.fakes
from arena_app.providers.registry import ModelRegistry  # noqa: E402
from arena_app.services.app_services import AppServices, create_services  # noqa: E402
from arena_app.services.client_id import ClientIdentity  # noqa: E402
from arena_app.settings import load_settings  # noqa: E402
from arena_app.storage.migrate import upgrade  # noqa: E402
from tests.fakes.openai_server import OpenAIFakeServer, Reply  # noqa: E402

WHO = ClientIdentity("bench-session", "b" * 64)


def services_for(srv: OpenAIFakeServer, url: str, concurrency: int) -> AppServices:
    common = {"api_type": "openai", "api_base": srv.base_url, "api_key": "k", "retries": 0}
    common["max_concurrency"] = concurrency
    registry = ModelRegistry.from_mapping({"alpha": common, "beta": common})
    settings = load_settings(database_url=url, client_id_salt="bench")
    return create_services(settings, registry, rng=np.random.default_rng(0))


def app_threads(baseline: set[int]) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.ident not in baseline and "process_request" not in t.name]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--battles", type=int, default=16)
    ap.add_argument("--idle-seconds", type=float, default=5.0)
    ap.add_argument("--chunks", type=int, default=2000)
    args = ap.parse_args()
    url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    upgrade(url)

    with OpenAIFakeServer(default=Reply(chunks=["a", "b"], chunk_delay=600)) as srv:
        services = services_for(srv, url, concurrency=2 * args.battles)
        baseline = {t.ident for t in threading.enumerate()}
        states, turns, peak = [], [], 0
        for _ in range(args.battles):
            state = services.battle.new_state()
            turn = services.battle.send(state, "hi", WHO)
            states.append(state)
            turns.append(turn)
        ended = threading.Event()
        remaining = [len(turns)]
        lock = threading.Lock()

        def drive(turn: object) -> None:
            for _ in turn:  # type: ignore[attr-defined]
                pass
            with lock:
                remaining[0] -= 1
                if remaining[0] == 0:
                    ended.set()

        drivers = [threading.Thread(target=drive, args=(t,), daemon=True) for t in turns]
        for d in drivers:
            d.start()
        deadline = time.monotonic() + 10
        while srv.in_flight < 2 * args.battles and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # the first chunks arrived; now the server stalls
        peak = len(app_threads(baseline)) - len(drivers)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        time.sleep(args.idle_seconds)
        cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
        print(
            f"threads: {args.battles} battle turns ({2 * args.battles} answers) run {peak} threads "
            f"({peak / args.battles:g} per turn; the consumers' threads not counted)"
        )
        print(
            f"idle: {args.battles} stalled battle turns cost {cpu * 100:.1f}% of one core "
            f"({cpu * 100 / args.battles:.2f}% per turn)"
        )
        t = time.perf_counter()
        for state in states:
            services.battle.stop(state)
        while srv.in_flight and time.perf_counter() - t < 10:
            time.sleep(0.002)
        closed = time.perf_counter() - t
        ended.wait(10)
        print(
            f"stop: all {2 * args.battles} upstream connections closed {closed:.3f} s after Stop, "
            f"every turn ended (answers stored) after {time.perf_counter() - t:.3f} s"
        )
        services.close()

    with OpenAIFakeServer(default=Reply(chunks=["tok "] * args.chunks)) as srv:
        services = services_for(srv, url, concurrency=2)
        state = services.battle.new_state()
        cpu0, wall0, updates = time.process_time(), time.perf_counter(), 0
        for _ in services.battle.send(state, "hi", WHO):
            updates += 1
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        print(
            f"throughput: one turn of 2 x {args.chunks} chunks took {wall:.2f} s, {cpu:.2f} s CPU in this "
            f"process (server included), {updates} updates to the consumer"
        )
        services.close()


if __name__ == "__main__":
    main()
