"""Two replicas' refreshers on one PostgreSQL database: exactly one recomputes at a time, a round stores
each changed category once, and nothing is stored while no vote changes (the recompute lease)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from arena_app.services.leaderboard_lease import RecomputeLease
from arena_app.services.leaderboard_refresh import LeaderboardRefresher
from arena_app.services.leaderboard_service import RecomputeOutcome, RecomputeParams, recompute
from arena_app.storage.db import make_engine, make_session_factory
from arena_app.storage.models import LeaderboardSnapshot
from tests.leaderboard.seed import insert_battles, simulate_battles


class _Watch:
    """Wraps the real recompute, recording how many run at once (a short pause widens the window)."""

    def __init__(self) -> None:
        self.active = 0
        self.most = 0
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, factory: sessionmaker[Session], params: RecomputeParams) -> list[RecomputeOutcome]:
        with self._lock:
            self.active += 1
            self.calls += 1
            self.most = max(self.most, self.active)
        try:
            time.sleep(0.3)
            return recompute(factory, params)
        finally:
            with self._lock:
                self.active -= 1


def _rounds_together(refreshers: list[LeaderboardRefresher]) -> list[list[RecomputeOutcome] | None]:
    gate = threading.Barrier(len(refreshers))
    results: list[list[RecomputeOutcome] | None] = [None] * len(refreshers)

    def one(k: int) -> None:
        gate.wait()
        results[k] = refreshers[k].run_once()

    threads = [threading.Thread(target=one, args=(k,)) for k in range(len(refreshers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def test_two_replicas_recompute_once_and_store_nothing_while_nothing_changes(postgres_url: str) -> None:
    seed_engine = make_engine(postgres_url)
    data = simulate_battles(500, 5, seed=6)
    insert_battles(seed_engine, data, stop=400)
    engines = [make_engine(postgres_url) for _ in range(2)]  # one pool per replica, as two processes have
    watch = _Watch()
    refreshers = [
        LeaderboardRefresher(
            make_session_factory(e),
            style_every=0,
            lease=RecomputeLease(make_session_factory(e)),
            recompute=watch,
        )
        for e in engines
    ]

    def snapshots() -> int:
        with seed_engine.connect() as c:
            return int(c.scalar(select(func.count()).select_from(LeaderboardSnapshot)) or 0)

    try:
        first = _rounds_together(refreshers)
        assert watch.most == 1  # never two recomputes at once
        did = [r for r in first if r]
        # one replica recomputed; the other found the lease taken ([]) or, after it, nothing changed
        assert len(did) >= 1 and all(r is not None for r in first)
        stored = [o for r in did for o in r if o.stored]
        assert sorted(o.category for o in stored) == [
            "code",
            "multi_turn",
            "overall",
        ]  # long_prompt: no votes
        assert snapshots() == 3
        for _ in range(2):
            again = _rounds_together(refreshers)
            done = [o for r in again if r for o in r]
            assert all(not o.stored for o in done)
            assert all(o.how == "unchanged" for o in done if o.vote_count)
        assert snapshots() == 3 and watch.most == 1
        insert_battles(seed_engine, data, start=400, stop=500)
        third = _rounds_together(refreshers)
        fresh = [o for r in third if r for o in r if o.stored]
        assert sorted(o.category for o in fresh) == ["code", "multi_turn", "overall"]
        assert all(o.how == "incremental" for o in fresh) and snapshots() == 6 and watch.most == 1
    finally:
        for e in [*engines, seed_engine]:
            e.dispose()


def test_a_lease_left_by_a_dead_replica_expires(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    factory = make_session_factory(engine)
    try:
        dead = RecomputeLease(factory, holder="dead-replica", seconds=0.5)
        alive = RecomputeLease(factory, holder="live-replica")
        assert dead.acquire() and not alive.acquire()
        held = alive.held_by()
        assert held is not None and held[0] == "dead-replica"
        time.sleep(0.7)
        assert alive.acquire() and not dead.acquire()
        alive.release()
        assert dead.acquire()
    finally:
        engine.dispose()


REPLICA = """
import json, sys, time
from pathlib import Path
from arena_app.services.leaderboard_refresh import LeaderboardRefresher
from arena_app.storage.db import make_engine, make_session_factory

url, me, other = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
engine = make_engine(url)
refresher = LeaderboardRefresher(make_session_factory(engine), style_every=0)
refresher.lease.acquire() and refresher.lease.release()  # connect and warm up before the start line
me.touch()
deadline = time.monotonic() + 60
while not other.exists() and time.monotonic() < deadline:
    time.sleep(0.01)
out = refresher.run_once()
print(json.dumps(None if out is None else [[o.category, o.how, o.stored] for o in out]))
engine.dispose()
"""


def test_two_replica_processes_recompute_each_changed_category_once(
    postgres_url: str, tmp_path: Path
) -> None:
    engine = make_engine(postgres_url)
    insert_battles(engine, simulate_battles(400, 5, seed=9))
    ready = [tmp_path / "a.ready", tmp_path / "b.ready"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", REPLICA, postgres_url, str(ready[k]), str(ready[1 - k])],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for k in range(2)
    ]
    try:
        results = [json.loads(p.communicate(timeout=180)[0].strip().splitlines()[-1]) for p in procs]
        assert all(p.returncode == 0 for p in procs) and all(r is not None for r in results)
        stored = sorted(cat for r in results for cat, _how, was_stored in r if was_stored)
        assert stored == ["code", "multi_turn", "overall"]  # once each, by whichever replica got the lease
        # and computed once: the other replica found the lease taken ([]) or, after it, nothing changed
        computed = sorted(
            cat for r in results for cat, how, _s in r if how != "unchanged" and cat != "long_prompt"
        )
        assert computed == ["code", "multi_turn", "overall"]
        with engine.connect() as c:
            assert c.scalar(select(func.count()).select_from(LeaderboardSnapshot)) == 3
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        engine.dispose()
