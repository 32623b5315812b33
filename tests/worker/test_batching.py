"""Concurrent requests share forward passes, each gets its own stream, and a disconnect frees its slot."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.tiny_model import build_tiny_model
from tests.worker.harness import MODEL_NAME, RunningWorker, run_worker

PROMPTS: list[Any] = [
    [{"role": "user", "content": f"Question number {i}: what is {i} + {i}?"}] for i in range(8)
]


def _stream_text(worker: RunningWorker, messages: Any, **params: Any) -> str:
    chunks = worker.client().chat.completions.create(
        model=MODEL_NAME,
        messages=messages,
        stream=True,
        **params,
    )
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_concurrent_requests_are_batched_and_each_gets_its_own_stream(
    worker: RunningWorker, reference: Callable[[Any, int], str]
) -> None:
    before = worker.metrics()
    results: dict[int, str] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(PROMPTS))

    def run(i: int) -> None:
        try:
            barrier.wait()
            # Odd requests sample at a high temperature in the same batch: their parameters must not leak
            # into the greedy neighbours.
            params = {"temperature": 0.0} if i % 2 == 0 else {"temperature": 2.0, "top_p": 1.0}
            results[i] = _stream_text(worker, PROMPTS[i], max_tokens=60, **params)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(PROMPTS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    after = worker.metrics()
    assert after["batched_steps"] > before["batched_steps"]
    assert after["max_batch_size"] > 1
    for i in range(0, len(PROMPTS), 2):
        assert results[i] == reference(PROMPTS[i], 60), f"greedy request {i} got another request's tokens"
    assert len({results[i] for i in range(1, len(PROMPTS), 2)}) > 1


@pytest.fixture(scope="module")
def long_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model with a 4096-token window, so one request can run for seconds."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-long"), max_position_embeddings=4096)


@pytest.fixture(scope="module")
def one_slot_worker(long_model_dir: Path) -> Iterator[RunningWorker]:
    with run_worker(long_model_dir, max_batch_size=1, max_new_tokens_limit=4000) as running:
        running.wait_healthy()
        yield running


def test_disconnect_mid_stream_cancels_and_frees_the_slot(one_slot_worker: RunningWorker) -> None:
    worker = one_slot_worker
    before = worker.metrics()
    stream: Any = worker.client().chat.completions.create(
        model=MODEL_NAME,
        messages=PROMPTS[0],
        max_tokens=4000,
        temperature=0,
        stream=True,
    )
    chunks = iter(stream)
    for _ in range(3):
        next(chunks)
    stream.close()  # the client goes away mid-answer

    after = worker.wait_until(
        lambda m: (
            m["requests_in_flight"] == 0
            and m["engine_active_requests"] == 0
            and m["requests_cancelled"] == before["requests_cancelled"] + 1
        )
    )
    generated = after["tokens_generated_total"] - before["tokens_generated_total"]
    assert generated < 4000
    time.sleep(0.3)
    assert worker.metrics()["tokens_generated_total"] == after["tokens_generated_total"]  # really stopped

    # The only slot is free again: a new request is served at once instead of after ~4000 tokens.
    started = time.monotonic()
    response = worker.client().chat.completions.create(
        model=MODEL_NAME,
        messages=PROMPTS[1],
        max_tokens=5,
        temperature=0,
    )
    assert response.usage is not None and response.usage.completion_tokens <= 5
    assert time.monotonic() - started < 5


def test_disconnect_while_waiting_for_a_non_streamed_answer_cancels_it(
    one_slot_worker: RunningWorker,
) -> None:
    import httpx

    worker = one_slot_worker
    before = worker.metrics()
    body = {"model": MODEL_NAME, "messages": PROMPTS[2], "max_tokens": 4000, "temperature": 0}
    with pytest.raises(httpx.ReadTimeout):  # the client gives up and closes the connection
        httpx.post(worker.base_url + "/v1/chat/completions", json=body, timeout=0.5)
    after = worker.wait_until(
        lambda m: (
            m["requests_in_flight"] == 0
            and m["engine_active_requests"] == 0
            and m["requests_cancelled"] == before["requests_cancelled"] + 1
        )
    )
    assert after["tokens_generated_total"] - before["tokens_generated_total"] < 4000
