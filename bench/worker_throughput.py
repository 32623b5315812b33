"""Worker throughput: total tokens/s and time to first token at several concurrency levels.

Starts the real worker (``python -m arena_app.cli.main worker``) twice on loopback: once batching
(continuous batching, ``--max-batch-size 16``) and once one request at a time (``--max-batch-size 1``, the
behaviour of FastChat's default transformers worker), and drives each with N concurrent streaming clients.
Every client sends ``--rounds`` requests one after the other (distinct prompts, greedy, ``--max-tokens``
each). Both workers run with ``--cpu-threads 1`` by default (see docs/worker.md on shared CPUs).

    .venv/bin/python bench/worker_throughput.py                      # tiny test model, CPU
    .venv/bin/python bench/worker_throughput.py --model-path DIR     # any local model folder

Prints one table. Tokens are counted from the usage the worker reports, so an early EOS is not over-counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


@dataclass
class LevelResult:
    concurrency: int
    tokens: int
    seconds: float
    ttfts: list[float]

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds

    @property
    def ttft_p50(self) -> float:
        return statistics.median(self.ttfts)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_worker(
    model_path: Path, port: int, max_batch_size: int, args: argparse.Namespace, log: Path
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "arena_app.cli.main",
        "worker",
        "--model-path",
        str(model_path),
        "--model-name",
        "bench",
        "--port",
        str(port),
        "--device",
        args.device,
        "--max-batch-size",
        str(max_batch_size),
        "--max-new-tokens-limit",
        "4096",
    ]
    if args.cpu_threads:
        cmd += ["--cpu-threads", str(args.cpu_threads)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)


def wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"worker exited ({proc.returncode}):\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"worker not healthy after {timeout} s:\n{log.read_text()[-2000:]}")


async def one_request(client: httpx.AsyncClient, prompt: str, max_tokens: int) -> tuple[int, float]:
    """(completion tokens, seconds to first content token) of one streamed request."""
    body = {
        "model": "bench",
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    start = time.perf_counter()
    ttft = None
    tokens = 0
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if ttft is None and chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                ttft = time.perf_counter() - start
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
    return tokens, ttft if ttft is not None else time.perf_counter() - start


async def run_level(base: str, concurrency: int, rounds: int, max_tokens: int) -> LevelResult:
    limits = httpx.Limits(max_connections=concurrency + 4)
    async with httpx.AsyncClient(base_url=base, timeout=600, limits=limits) as client:

        async def user(u: int) -> list[tuple[int, float]]:
            return [
                await one_request(
                    client, f"User {u}, question {r}: tell me about item {u * 100 + r}.", max_tokens
                )
                for r in range(rounds)
            ]

        start = time.perf_counter()
        per_user = await asyncio.gather(*(user(u) for u in range(concurrency)))
        seconds = time.perf_counter() - start
    results = [r for rs in per_user for r in rs]
    return LevelResult(concurrency, sum(t for t, _ in results), seconds, [f for _, f in results])


def bench_mode(model: Path, max_batch_size: int, args: argparse.Namespace, tmp: Path) -> list[LevelResult]:
    port = free_port()
    log = tmp / f"worker-{max_batch_size}.log"
    proc = start_worker(model, port, max_batch_size, args, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc, log)
        asyncio.run(run_level(base, 2, 1, 8))  # warm-up
        results = []
        for c in args.concurrency:
            result = asyncio.run(run_level(base, c, args.rounds, args.max_tokens))
            print(
                f"  max-batch-size {max_batch_size:>2}, concurrency {c:>2}: {result.tokens} tokens in "
                f"{result.seconds:.2f} s",
                file=sys.stderr,
            )
            results.append(result)
        return results
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-path", type=Path, help="model folder [default: build the tiny test model]")
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--rounds", type=int, default=2, help="requests per client, one after the other")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16, help="--max-batch-size of the batching worker")
    parser.add_argument(
        "--cpu-threads",
        type=int,
        default=1,
        help="--cpu-threads of both workers (0: the worker's own default) [default 1]",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="worker-bench-") as tmp_name:
        tmp = Path(tmp_name)
        model = args.model_path
        if model is None:
            sys.path.insert(0, str(REPO))
            from tests.fakes.tiny_model import build_tiny_model

            # The tiny model's own window (256) is too short for long answers; 2048 costs nothing.
            model = build_tiny_model(tmp / "tiny-model", max_position_embeddings=2048)
        serial = bench_mode(model, 1, args, tmp)
        batched = bench_mode(model, args.batch_size, args, tmp)

    best_serial = max(s.tokens_per_s for s in serial)
    print(
        f"\nmodel: {args.model_path or 'tiny test model (Llama, hidden 64, 2 layers)'}; device {args.device}"
    )
    print(f"{args.rounds} requests per client, max_tokens {args.max_tokens}, greedy, streaming")
    print(f"best one-at-a-time figure: {best_serial:.0f} tok/s\n")
    print(
        "| concurrency | one-at-a-time tok/s | batched tok/s | speed-up | speed-up vs best one-at-a-time "
        "| TTFT p50 one-at-a-time | TTFT p50 batched |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for s, b in zip(serial, batched, strict=True):
        print(
            f"| {s.concurrency} | {s.tokens_per_s:.0f} | {b.tokens_per_s:.0f} | "
            f"{b.tokens_per_s / s.tokens_per_s:.1f}x | {b.tokens_per_s / best_serial:.1f}x | "
            f"{s.ttft_p50 * 1000:.0f} ms | {b.ttft_p50 * 1000:.0f} ms |"
        )


if __name__ == "__main__":
    main()
