"""Closed-loop simulated users for ``bench/load.py``, driving the battle tab through Gradio's queue API.

Each user has its own session hash (and, behind the load balancer, its own affinity cookie) and repeats:
``battle_send`` a message carrying a unique marker, wait for ``process_completed``, vote with a random
button, ``battle_new_round``. Only what happens inside the measurement window counts for throughput and
latencies (the window opens after ``warmup`` seconds and closes after ``duration`` seconds or at the
``battles``-th acknowledged vote); every acknowledged vote of the whole run counts for the lost/duplicate
check. After the window closes users finish their current battle (bounded by ``grace``) and stop.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.queue_client import AppConfig, CallError, call, fetch_config, shared_client

VOTES = ("battle_vote_a", "battle_vote_b", "battle_vote_tie", "battle_vote_bothbad")
VOTE_ACK = "vote was recorded"
AFFINITY_COOKIE = "arena_affinity"
Hooks = tuple[Callable[[], None], Callable[[], None]]  # (when the window opens, when it closes)


@dataclass(frozen=True)
class DriveSpec:
    base_url: str
    users: int
    first_word: str  # the first word of every fake answer: its arrival is the first token
    warmup: float = 10.0
    duration: float | None = 30.0
    battles: int | None = None
    grace: float = 60.0  # after the window: longest wait for users to finish their battle
    call_timeout: float = 120.0
    seed: int = 0


@dataclass
class DriveResult:
    window_s: float = 0.0
    battles: int = 0  # battles whose vote was acknowledged inside the window
    ttft: list[float] = field(default_factory=list)
    answer: list[float] = field(default_factory=list)  # send -> process_completed
    vote: list[float] = field(default_factory=list)
    send_events: list[int] = field(default_factory=list)  # SSE messages one battle_send produced
    errors: Counter[str] = field(default_factory=Counter)
    acked: Counter[str] = field(default_factory=Counter)  # marker -> acknowledged votes (whole run)
    unfinished: int = 0  # users still busy when the grace period ended
    snapshots: dict[str, Any] = field(default_factory=dict)  # "open"/"close" -> what ``measure`` returned


def _kind(text: str) -> str:
    """A short, count-friendly label for a status text or error (digits folded)."""
    return re.sub(r"\d+", "N", " ".join(str(text).split()))[:90]


class _Window:
    def __init__(
        self, spec: DriveSpec, measure: Callable[[], Any], result: DriveResult, hooks: Hooks | None
    ) -> None:
        self.spec, self.measure, self.result, self.hooks = spec, measure, result, hooks
        self.start: float | None = None
        self.end: float | None = None
        self.closed = asyncio.Event()

    def open(self) -> None:
        self.result.snapshots["open"] = self.measure()
        self.start = time.perf_counter()
        if self.hooks:
            self.hooks[0]()

    def close(self) -> None:
        if self.end is None and self.start is not None:
            self.end = time.perf_counter()
            self.result.snapshots["close"] = self.measure()
            self.result.window_s = self.end - self.start
            self.closed.set()
            if self.hooks:
                self.hooks[1]()

    def inside(self, t: float) -> bool:
        return self.start is not None and t >= self.start and (self.end is None or t <= self.end)

    def battle_done(self, t: float) -> None:
        if self.inside(t):
            self.result.battles += 1
            if self.spec.battles is not None and self.result.battles >= self.spec.battles:
                self.close()


class _User:
    def __init__(self, uid: int, client: httpx.AsyncClient, config: AppConfig, window: _Window, run_id: str):
        self.uid, self.client, self.config, self.window = uid, client, config, window
        self.spec, self.result = window.spec, window.result
        self.session = f"{run_id}u{uid}"
        self.headers: dict[str, str] = {}
        self.rng = random.Random(window.spec.seed * 100_003 + uid)
        self.status_at = config.output_index("battle_send", "battle-status")

    async def _call(self, api_name: str, data: list[Any], watch: str | None = None) -> Any:
        endpoint = self.config.endpoints[api_name]
        async with asyncio.timeout(self.spec.call_timeout):
            return await call(
                self.client, self.spec.base_url, endpoint, data, self.session, self.headers, watch
            )

    async def run(self, start_delay: float) -> None:
        await asyncio.sleep(start_delay)
        try:  # a browser's first page load: behind nginx it hands out the affinity cookie
            response = await self.client.get(f"{self.spec.base_url}/config")
        except httpx.HTTPError as exc:
            self.result.errors[f"GET /config: {type(exc).__name__}"] += 1
            return
        if cookie := response.cookies.get(AFFINITY_COOKIE):
            self.headers["Cookie"] = f"{AFFINITY_COOKIE}={cookie}"
        n = 0
        while not self.window.closed.is_set():
            n += 1
            try:
                await self.battle(f"{self.session}n{n}")
            except CallError as exc:
                self.result.errors[exc.kind] += 1
                await self.reset()
            except TimeoutError:
                self.result.errors[f"call timeout ({self.spec.call_timeout:.0f} s)"] += 1
                await self.reset()
            except (httpx.HTTPError, ValueError, LookupError) as exc:  # a malformed answer: count, go on
                self.result.errors[f"client: {type(exc).__name__}: {_kind(str(exc))[:60]}"] += 1
                await self.reset()

    async def reset(self) -> None:
        await asyncio.sleep(0.2)
        try:
            await self._call("battle_new_round", [None])
        except (CallError, TimeoutError) as exc:
            self.result.errors[f"new round after an error: {exc}"[:90]] += 1

    async def battle(self, marker: str) -> None:
        text = f"Question {marker}: why should one measure before optimising?"
        sent = await self._call("battle_send", [text, None], watch=self.spec.first_word)
        status = str(sent.output[self.status_at] or "")
        if status.startswith(("❌", "⚠️")):
            raise CallError(f"send: {_kind(status)}")
        if sent.first_match is None:
            raise CallError("send: completed without answer text")
        if self.window.inside(sent.started):
            self.result.ttft.append(sent.first_match - sent.started)
            self.result.answer.append(sent.completed - sent.started)
            self.result.send_events.append(sent.events)
        voted = await self._call(self.rng.choice(VOTES), [None])
        status = str(voted.output[self.status_at] or "")
        if VOTE_ACK not in status:
            raise CallError(f"vote: {_kind(status)}")
        self.result.acked[marker] += 1
        if self.window.inside(voted.started):
            self.result.vote.append(voted.completed - voted.started)
        self.window.battle_done(voted.completed)
        await self._call("battle_new_round", [None])


async def drive(
    spec: DriveSpec, measure: Callable[[], Any], hooks: Hooks | None = None, max_seconds: float = 1800
) -> DriveResult:
    """Run the users; ``measure()`` is called when the window opens and closes (CPU snapshots), then the
    matching hook (e.g. start and stop a profiler)."""
    result = DriveResult()
    window = _Window(spec, measure, result, hooks)
    limits = httpx.Limits(max_connections=spec.users * 3 + 16, max_keepalive_connections=spec.users * 2 + 8)
    timeout = httpx.Timeout(60.0, connect=10.0)  # read: Gradio sends a heartbeat every 15 s
    async with shared_client(limits=limits, timeout=timeout) as client:
        config = await fetch_config(client, spec.base_url, {})
        run_id = uuid.uuid4().hex[:10]
        ramp = min(spec.warmup / 2, 5.0)  # spread the users' starts instead of one thundering herd
        users = [_User(i, client, config, window, run_id) for i in range(spec.users)]
        tasks = [asyncio.create_task(u.run(ramp * i / spec.users)) for i, u in enumerate(users)]
        try:
            await asyncio.sleep(spec.warmup)
            window.open()
            limit = spec.duration if spec.duration is not None else max_seconds
            try:
                await asyncio.wait_for(window.closed.wait(), timeout=limit)
            except TimeoutError:
                if spec.battles is not None:
                    result.errors[f"--battles {spec.battles} not reached in {limit:.0f} s"] += 1
            window.close()
            _, pending = await asyncio.wait(tasks, timeout=spec.grace)
            result.unfinished = len(pending)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return result
