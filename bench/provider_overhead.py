"""Overhead of the provider layer (registry + guarded stream) over the raw openai SDK, on loopback.

    .venv/bin/python bench/provider_overhead.py --chunks 3000 --idle-streams 32 --idle-seconds 5

1. Throughput: one answer of ``--chunks`` chunks from the fake OpenAI server, read with the raw SDK and
   through ``ModelRegistry.stream`` (best of 3 each); prints chunks/s for both.
2. Idle cost: ``--idle-streams`` concurrent streams whose server stalls; prints the CPU time this process
   spends per second while they wait (each answer's reading thread is blocked in its socket read), then
   cancels them all and prints how long until every upstream connection was closed.
Figures are machine- and load-dependent.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from pathlib import Path

import openai

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.fakes
from arena_app.providers.base import ChatMessage, GenerationParams  # noqa: E402
from arena_app.providers.errors import Cancelled  # noqa: E402
from arena_app.providers.registry import ModelRegistry  # noqa: E402
from tests.fakes.openai_server import OpenAIFakeServer, Reply  # noqa: E402

MSGS = [ChatMessage("user", "hi")]


def raw_sdk(base_url: str) -> int:
    client = openai.OpenAI(base_url=base_url, api_key="k", max_retries=0)
    n = 0
    stream = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            n += 1
    return n


def best_of(fn: object, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=3000)
    ap.add_argument("--idle-streams", type=int, default=32)
    ap.add_argument("--idle-seconds", type=float, default=5.0)
    args = ap.parse_args()

    with OpenAIFakeServer(default=Reply(chunks=["tok "] * args.chunks)) as srv:
        reg = ModelRegistry.from_mapping({"m": {"api_type": "openai", "api_base": srv.base_url}}, env={})
        raw = best_of(lambda: raw_sdk(srv.base_url))
        ours = best_of(lambda: list(reg.stream("m", MSGS, GenerationParams())))
        print(
            f"throughput, {args.chunks} chunks: raw SDK {args.chunks / raw:,.0f} chunks/s, "
            f"registry {args.chunks / ours:,.0f} chunks/s ({ours / raw:.2f}x the time)"
        )

    with OpenAIFakeServer(default=Reply(chunks=["a", "b"], chunk_delay=600)) as srv:
        reg = ModelRegistry.from_mapping(
            {"m": {"api_type": "openai", "api_base": srv.base_url, "max_concurrency": args.idle_streams}},
            env={},
        )
        cancels = [threading.Event() for _ in range(args.idle_streams)]
        streams = [reg.stream("m", MSGS, GenerationParams(), cancel=c) for c in cancels]
        for s in streams:
            next(s)  # first chunk arrived; now the server stalls
        cpu0, wall0 = time.process_time(), time.perf_counter()
        time.sleep(args.idle_seconds)
        cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
        print(
            f"idle: {args.idle_streams} stalled streams cost {cpu * 100:.1f}% of one core "
            f"({cpu * 100 / args.idle_streams:.2f}% per stream)"
        )
        t = time.perf_counter()
        for c in cancels:
            c.set()
        for s in streams:
            with contextlib.suppress(Cancelled):
                next(s)
        deadline = time.monotonic() + 10
        while srv.in_flight and time.monotonic() < deadline:
            time.sleep(0.005)
        print(
            f"cancel: all {args.idle_streams} upstream connections closed {time.perf_counter() - t:.3f} s "
            f"after the cancel events were set (server in flight now: {srv.in_flight})"
        )
        reg.close()


if __name__ == "__main__":
    main()
