"""The incremental recompute on a loaded database (``bench/leaderboard_recompute.py --incremental``).

1. build the tallies from every vote (``arena leaderboard rebuild``'s path), timed;
2. add ``new`` battles with votes (ids after the newest);
3. time the incremental recompute of ``overall`` in-process (Bradley-Terry, 1000 bootstrap rounds, online
   Elo; no style control, no fragility: the goal's configuration), by stage; then the same with the #1-spot
   fragility that ``arena serve`` adds, and every category;
4. check the incremental table equals the full pass's (one full recompute, timed for comparison).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from arena_app.services.leaderboard_lease import RecomputeLease
from arena_app.services.leaderboard_service import RecomputeOutcome, RecomputeParams, recompute
from arena_app.storage.db import make_engine, make_session_factory
from arena_app.storage.models import Vote
from leaderboard.compute import ComputeParams

GOAL = ComputeParams(rounds=1000, seed=0)  # BT, 1000 bootstrap rounds; online Elo via RecomputeParams


def _table(o: RecomputeOutcome) -> str:
    assert o.result is not None
    body = o.result.to_json()
    body.pop("timings")
    return json.dumps(body, sort_keys=True)


def _line(label: str, outs: list[RecomputeOutcome], wall: float, cpu: float) -> None:
    o = outs[0]
    t = o.result.timings if o.result is not None else {}
    stages = ", ".join(f"{k} {v:.3f}" for k, v in t.items())
    print(
        f"{label}: {wall:.3f} s wall, {cpu:.3f} s CPU of this process ({len(outs)} "
        f"categor{'y' if len(outs) == 1 else 'ies'}; overall "
        f"{o.vote_count:,} votes, {o.how}, {o.new_votes} new, stored={o.stored}; {stages})"
    )


def run_incremental(
    url: str, models: int, new: int, simulate: Callable[..., Any], append: Callable[..., None]
) -> None:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    backend = engine.dialect.name
    lease = RecomputeLease(factory, holder="bench")
    assert lease.acquire()
    try:

        def timed(params: RecomputeParams) -> tuple[list[RecomputeOutcome], float]:
            t0, c0 = time.perf_counter(), time.process_time()
            outs = recompute(factory, params)
            cpu.append(time.process_time() - c0)
            return outs, time.perf_counter() - t0

        cpu: list[float] = []

        base = RecomputeParams(("overall",), GOAL, incremental=True)
        outs, wall = timed(RecomputeParams(("overall",), GOAL, rebuild=True))
        _line(f"[{backend}] build the tallies from every vote", outs, wall, cpu[-1])
        with engine.connect() as c:
            n = int(c.scalar(select(func.max(Vote.id))) or 0)
        d = simulate(n + new, models, 7)
        t0 = time.perf_counter()
        target = make_url(url).database if backend == "sqlite" else url
        append(Path(target) if backend == "sqlite" else target, d, models, 10_000, n, False)
        print(
            f"[{backend}] added {new:,} battles with votes after id {n:,} in {time.perf_counter() - t0:.1f} s"
        )
        load = os.getloadavg()
        outs, wall = timed(base)
        _line(f"[{backend}] GOAL incremental recompute after {new:,} new votes", outs, wall, cpu[-1])
        print(f"    load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        outs, wall = timed(base)
        _line(f"[{backend}] the same again, nothing new (computed, same table kept)", outs, wall, cpu[-1])
        skip = RecomputeParams(("overall",), GOAL, incremental=True, only_if_changed=True)
        outs, wall = timed(skip)
        _line(f"[{backend}] the refresh's check when nothing changed", outs, wall, cpu[-1])
        served = RecomputeParams(
            ("all",), ComputeParams(rounds=1000, seed=0, fragility=True), incremental=True
        )
        outs, wall = timed(served)  # builds the other categories' tallies
        _line(f"[{backend}] arena serve's round, first time (other categories built)", outs, wall, cpu[-1])
        where = Path(target) if backend == "sqlite" else target
        append(where, simulate(n + 2 * new, models, 8), models, 10_000, n + new, False)
        load = os.getloadavg()
        outs, wall = timed(served)
        _line(
            f"[{backend}] arena serve's round after {new:,} more (all categories, fragility)",
            outs,
            wall,
            cpu[-1],
        )
        print(f"    load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        inc, _ = timed(base)
        full, wall = timed(RecomputeParams(("overall",), GOAL))
        _line(f"[{backend}] full pass for comparison", full, wall, cpu[-1])
        print(f"[{backend}] incremental table == full-pass table: {_table(inc[0]) == _table(full[0])}")
    finally:
        lease.release()
        engine.dispose()
