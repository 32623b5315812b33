"""One thread per streamed answer (providers/answer_threads.py, providers/attempts.py): the reading thread
pushes straight into the waiter's queue; the waiter enforces deadlines and cancel. Real registry, real
openai SDK, loopback fake server."""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from pydantic import SecretStr

from arena_app.providers import answer_threads
from arena_app.providers.answer_threads import AnswerFeed, CancelEvent
from arena_app.providers.attempts import AnswerControl, read_attempt
from arena_app.providers.base import (
    ChatMessage,
    Completion,
    EndpointTarget,
    GenerationParams,
    TextDelta,
    Timeouts,
)
from arena_app.providers.errors import Cancelled, ProviderTimeout
from arena_app.providers.openai_provider import OpenAIProvider
from arena_app.providers.registry import ModelRegistry
from tests.fakes.openai_server import OpenAIFakeServer, Reply

MSGS = [ChatMessage("user", "hello")]


@pytest.fixture
def servers() -> Iterator[list[OpenAIFakeServer]]:
    srvs = [OpenAIFakeServer().start() for _ in range(2)]
    yield srvs
    for s in srvs:
        s.close()


def entry(*bases: str, **extra: object) -> dict[str, object]:
    return {"api_type": "openai", "api_base": list(bases), "api_key": "sk-k", **extra}


def test_one_thread_reads_an_answer_retries_included(servers: list[OpenAIFakeServer]) -> None:
    bad, good = servers
    bad.default = Reply.error(500)
    good.default = Reply.text("one two three", chunk_delay=0.3)
    reg = ModelRegistry.from_mapping({"m": entry(bad.base_url, good.base_url, retries=1)}, env={})
    before = {t.ident for t in threading.enumerate()}
    stream = reg.stream("m", MSGS)
    first = next(stream)  # the first endpoint failed with a 500; the retry went to the other one
    started = [t for t in threading.enumerate() if t.ident not in before and "process_request" not in t.name]
    assert first == TextDelta("one")
    assert [t.name for t in started] == ["answer-m"]  # no second (pump) thread, none per attempt
    assert [type(e) for e in stream][-1] is Completion
    assert len(bad.requests) == 1 and len(good.requests) == 1
    reg.close()


def test_a_cancel_event_wakes_the_waiter_without_polling(
    servers: list[OpenAIFakeServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = servers[0]
    srv.default = Reply.text("first then a long pause", chunk_delay=30)
    monkeypatch.setattr(answer_threads, "POLL_S", 60.0)  # a poll would come far too late to pass
    reg = ModelRegistry.from_mapping({"m": entry(srv.base_url)}, env={})
    cancel = CancelEvent()
    stream = reg.stream("m", MSGS, cancel=cancel)
    assert next(stream) == TextDelta("first")
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        list(stream)
    assert time.monotonic() - started < 3
    assert srv.client_closed.wait(3), "the upstream connection was not closed"
    assert reg.health_report()[0].endpoints[0].in_flight == 0
    reg.close()


def test_one_waiter_enforces_each_answers_own_deadline(servers: list[OpenAIFakeServer]) -> None:
    fast, stalled = servers
    fast.default = Reply.text("a b c d e f", chunk_delay=0.15)
    stalled.default = Reply.text("never in time", first_chunk_delay=10)
    reg = ModelRegistry.from_mapping(
        {"fast": entry(fast.base_url), "slow": entry(stalled.base_url, first_token_timeout_s=0.4)}, env={}
    )
    feed: AnswerFeed[object] = AnswerFeed(CancelEvent())
    for key, name in enumerate(("fast", "slow")):

        def run(control: AnswerControl, put: Callable[[object], None], name: str = name) -> None:
            put(reg.answer(name, MSGS, None, control, put))

        feed.start(key, run, name=f"answer-{name}")
    started = time.monotonic()
    ended: dict[int, tuple[float, object]] = {}
    texts = ""
    while len(ended) < 2:
        got = feed.get()
        assert got is not None
        key, item = got
        if isinstance(item, TextDelta):
            texts += item.text
        else:
            ended[key] = (time.monotonic() - started, item)
    slow_at, slow_end = ended[1]
    fast_at, fast_end = ended[0]
    assert isinstance(slow_end, ProviderTimeout) and "within 0.4 s" in str(slow_end)
    assert 0.35 < slow_at < 3, slow_at  # the waiter woke for the deadline; the server would wait 10 s
    assert isinstance(fast_end, Completion) and texts == "a b c d e f"
    assert stalled.client_closed.wait(3)
    assert reg.health_report()[1].endpoints[0].failures == 1  # a timeout counts against health
    feed.close()
    reg.close()


class CountingQueue(queue.SimpleQueue):  # type: ignore[type-arg]
    """The feed's queue, counting how often the waiter wakes up to look at it."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    def get(self, block: bool = True, timeout: float | None = None) -> object:
        self.gets += 1
        return super().get(block, timeout)


def test_a_deadline_passed_while_the_thread_cannot_be_woken_does_not_spin_the_waiter() -> None:
    """A connect that hangs (full accept backlog) cannot be interrupted: the first-token deadline aborts
    the answer, the thread only returns at its connect timeout, and meanwhile the waiter sleeps."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            s.connect(("127.0.0.1", port))
        fillers.append(s)
    target = EndpointTarget(
        "m", "m", f"http://127.0.0.1:{port}/v1", SecretStr("k"), Timeouts(1.0, first_token_s=0.2, total_s=10)
    )
    provider = OpenAIProvider(target)
    try:
        feed: AnswerFeed[object] = AnswerFeed(CancelEvent())
        counting = CountingQueue()
        feed._queue = counting  # type: ignore[assignment]

        def run(control: AnswerControl, put: Callable[[object], None]) -> None:
            put(read_attempt(provider.call(MSGS, GenerationParams()), control, put))

        started = time.monotonic()
        feed.start(0, run, name="answer-m")
        got = feed.get()
        assert got is not None
        assert isinstance(got[1], ProviderTimeout) and "within 0.2 s" in str(got[1])
        assert time.monotonic() - started >= 0.7  # the thread came back only at its connect timeout
        assert counting.gets < 10, counting.gets  # woke for the deadline, then slept until the item
        feed.close()
    finally:
        provider.close()
        for s in [*fillers, listener]:
            s.close()
