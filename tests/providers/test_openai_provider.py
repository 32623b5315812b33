"""The OpenAI provider against a loopback server speaking the chat-completions wire format."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time

import pytest
from pydantic import SecretStr

from arena_app.providers.base import (
    ChatMessage,
    Completion,
    EndpointTarget,
    GenerationParams,
    TextDelta,
    Timeouts,
)
from arena_app.providers.errors import (
    AuthenticationFailed,
    BadRequest,
    Cancelled,
    ContextTooLong,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    StreamInterrupted,
    UpstreamUnavailable,
)
from arena_app.providers.openai_provider import OpenAIProvider
from tests.fakes.openai_server import OpenAIFakeServer, RecordedRequest, Reply
from tests.providers.conftest import OPENAI_KEY

MESSAGES = [ChatMessage("system", "Answer briefly."), ChatMessage("user", "Say hello.")]


def provider(
    srv: OpenAIFakeServer, *, key: str = OPENAI_KEY, streaming: bool = True, timeouts: Timeouts | None = None
) -> OpenAIProvider:
    target = EndpointTarget("gpt-test", "gpt-upstream", srv.base_url, SecretStr(key), timeouts or Timeouts())
    return OpenAIProvider(target, streaming=streaming)


def collect(events: object) -> tuple[str, Completion]:
    items = list(events)  # type: ignore[call-overload]
    assert isinstance(items[-1], Completion)
    assert all(isinstance(i, TextDelta) for i in items[:-1])
    return "".join(i.text for i in items[:-1]), items[-1]


def test_streams_text_then_completion(openai_srv: OpenAIFakeServer) -> None:
    openai_srv.enqueue(Reply.text("Hello there, friend.", output_tokens=4))
    text, done = collect(provider(openai_srv).stream(MESSAGES, GenerationParams()))
    assert text == "Hello there, friend."
    assert done.finish_reason == "stop"
    assert done.output_tokens == 4
    assert done.ttft_s is not None and 0 <= done.ttft_s <= done.total_s


def test_sends_sampling_parameters_system_prompt_and_key(openai_srv: OpenAIFakeServer) -> None:
    params = GenerationParams(
        temperature=0.3, top_p=0.8, max_new_tokens=77, stop=("END",), extra_body={"repetition_penalty": 1.1}
    )
    collect(provider(openai_srv).stream(MESSAGES, params))
    req = openai_srv.requests[0]
    assert req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    body = req.body
    assert body["model"] == "gpt-upstream"
    assert body["temperature"] == 0.3
    assert body["top_p"] == 0.8
    assert body["max_tokens"] == 77
    assert body["stop"] == ["END"]
    assert body["repetition_penalty"] == 1.1
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Say hello."},
    ]


def test_length_finish_reason_and_missing_usage(openai_srv: OpenAIFakeServer) -> None:
    openai_srv.enqueue(Reply.text("cut", finish_reason="length", usage=False))
    _, done = collect(provider(openai_srv).stream(MESSAGES, GenerationParams()))
    assert done.finish_reason == "length"
    assert done.output_tokens is None


def test_no_stream_api_type_yields_whole_answer(openai_srv: OpenAIFakeServer) -> None:
    openai_srv.enqueue(Reply.text("one two three"))
    text, done = collect(provider(openai_srv, streaming=False).stream(MESSAGES, GenerationParams()))
    assert text == "one two three"
    assert done.output_tokens == 3
    assert openai_srv.requests[0].body.get("stream") in (None, False)


def test_wrong_key_is_authentication_error_without_the_key(
    openai_srv: OpenAIFakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "sk-wrong-key-abcdefghijklmnop"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthenticationFailed) as info:
        list(provider(openai_srv, key=wrong).stream(MESSAGES, GenerationParams()))
    text = str(info.value)
    assert "API key" in text and "HTTP 401" in text
    for leak in (wrong, wrong[-4:] + ".", openai_srv.base_url, "127.0.0.1"):
        assert leak not in text
    # the log (all libraries, DEBUG) names the endpoint host for the operator, but never the key
    assert wrong not in caplog.text and wrong[-4:] + "." not in caplog.text
    assert info.value.retryable is False


@pytest.mark.parametrize(
    ("status", "message", "error_type", "retryable"),
    [
        (429, "Rate limit reached", RateLimited, True),
        (500, "boom", UpstreamUnavailable, True),
        (503, "overloaded", UpstreamUnavailable, True),
        (400, "Invalid value for 'temperature'", BadRequest, False),
        (400, "This model's maximum context length is 8192 tokens", ContextTooLong, False),
    ],
)
def test_http_errors_map_to_the_tree(
    openai_srv: OpenAIFakeServer, status: int, message: str, error_type: type[ProviderError], retryable: bool
) -> None:
    openai_srv.enqueue(Reply.error(status, message))
    with pytest.raises(error_type) as info:
        list(provider(openai_srv).stream(MESSAGES, GenerationParams()))
    assert type(info.value) is error_type
    assert info.value.retryable is retryable


def test_bad_request_quotes_upstream_reason_but_not_urls_or_keys(openai_srv: OpenAIFakeServer) -> None:
    openai_srv.enqueue(Reply.error(400, f"bad 'top_p', see https://internal.example/x key {OPENAI_KEY}"))
    with pytest.raises(BadRequest) as info:
        list(provider(openai_srv).stream(MESSAGES, GenerationParams()))
    text = str(info.value)
    assert "bad 'top_p'" in text
    assert "internal.example" not in text and OPENAI_KEY not in text


def test_timeout_before_first_token_names_the_limit(openai_srv: OpenAIFakeServer) -> None:
    openai_srv.enqueue(Reply(first_chunk_delay=5))
    timeouts = Timeouts(connect_s=2, first_token_s=0.4, total_s=10)
    started = time.monotonic()
    with pytest.raises(ProviderTimeout) as info:
        list(provider(openai_srv, timeouts=timeouts).stream(MESSAGES, GenerationParams()))
    assert time.monotonic() - started < 2
    assert info.value.for_side("Model B") == "Model B did not answer within 0.4 s."
    assert openai_srv.client_closed.wait(2), "the upstream connection was left open"


def test_server_that_never_sends_headers_times_out(openai_srv: OpenAIFakeServer) -> None:
    openai_srv.enqueue(Reply(headers_delay=5))
    timeouts = Timeouts(connect_s=2, first_token_s=0.3, total_s=10)
    started = time.monotonic()
    with pytest.raises(ProviderTimeout):
        list(provider(openai_srv, timeouts=timeouts).stream(MESSAGES, GenerationParams()))
    assert time.monotonic() - started < 2
    assert openai_srv.client_closed.wait(1), "the request without a response was left open"


def test_total_timeout_after_some_text(openai_srv: OpenAIFakeServer) -> None:
    openai_srv.enqueue(Reply.text("a b c d e f g", chunk_delay=0.4))
    timeouts = Timeouts(connect_s=2, first_token_s=2, total_s=1.2)
    got: list[str] = []
    with pytest.raises(ProviderTimeout) as info:
        for ev in provider(openai_srv, timeouts=timeouts).stream(MESSAGES, GenerationParams()):
            got.append(ev.text)  # type: ignore[union-attr]
    assert got and "did not finish its answer within 1.2 s" in str(info.value)
    assert openai_srv.client_closed.wait(2)


def test_disconnect_mid_stream_is_interruption(openai_srv: OpenAIFakeServer) -> None:
    openai_srv.enqueue(Reply.text("one two three four", disconnect_after=2))
    got: list[str] = []
    with pytest.raises(StreamInterrupted) as info:
        for ev in provider(openai_srv).stream(MESSAGES, GenerationParams()):
            got.append(ev.text)  # type: ignore[union-attr]
    assert "".join(got) == "one two"
    assert "broke off" in str(info.value)
    assert info.value.retryable is False


def test_disconnect_before_any_text_is_retryable(openai_srv: OpenAIFakeServer) -> None:
    openai_srv.enqueue(Reply.text("one two", disconnect_after=0))
    with pytest.raises(UpstreamUnavailable) as info:
        list(provider(openai_srv).stream(MESSAGES, GenerationParams()))
    assert info.value.retryable is True


def test_malformed_event_is_interruption(openai_srv: OpenAIFakeServer) -> None:
    openai_srv.enqueue(Reply.text("one two three", malformed_after=1))
    with pytest.raises(StreamInterrupted) as info:
        list(provider(openai_srv).stream(MESSAGES, GenerationParams()))
    assert "malformed" in str(info.value)


def test_error_chunk_mid_stream_is_interruption(openai_srv: OpenAIFakeServer) -> None:
    openai_srv.enqueue(Reply.text("one two three", error_event_after=2))
    with pytest.raises(StreamInterrupted):
        list(provider(openai_srv).stream(MESSAGES, GenerationParams()))


def test_connection_refused_is_unavailable() -> None:
    srv = OpenAIFakeServer().start()
    base = srv.base_url
    srv.close()
    target = EndpointTarget("gpt-test", "m", base, SecretStr(OPENAI_KEY), Timeouts(connect_s=1))
    with pytest.raises(UpstreamUnavailable) as info:
        list(OpenAIProvider(target).stream(MESSAGES, GenerationParams()))
    assert "unreachable" in str(info.value) and "127.0.0.1" not in str(info.value)


def test_cancel_event_closes_a_stalled_upstream_promptly(openai_srv: OpenAIFakeServer) -> None:
    openai_srv.enqueue(Reply.text("first then a very long pause", chunk_delay=30))
    cancel = threading.Event()
    stream = provider(openai_srv).stream(MESSAGES, GenerationParams(), cancel=cancel)
    assert next(stream) == TextDelta("first")
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        next(stream)
    assert time.monotonic() - started < 5  # promptly: the server would stall for 30 s
    assert openai_srv.client_closed.wait(5), "server did not see the connection close"
    assert openai_srv.requests[0].client_closed


def test_closing_the_generator_closes_the_upstream(openai_srv: OpenAIFakeServer) -> None:
    openai_srv.enqueue(Reply.text("first then a very long pause", chunk_delay=30))
    stream = provider(openai_srv).stream(MESSAGES, GenerationParams())
    assert next(stream) == TextDelta("first")
    stream.close()  # type: ignore[attr-defined]
    assert openai_srv.client_closed.wait(1.0)


def test_keys_never_in_repr() -> None:
    target = EndpointTarget("m", "m", "http://10.1.2.3:8000/v1", SecretStr(OPENAI_KEY))
    assert OPENAI_KEY not in repr(target) and OPENAI_KEY not in repr(OpenAIProvider(target))


def test_connect_timeout_is_retryable_and_names_the_limit() -> None:
    # A listening socket whose accept backlog is full: the kernel drops further SYNs, so connect hangs.
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
    try:
        target = EndpointTarget(
            "gpt-test",
            "m",
            f"http://127.0.0.1:{port}/v1",
            SecretStr(OPENAI_KEY),
            Timeouts(connect_s=0.4, first_token_s=5, total_s=10),
        )
        started = time.monotonic()
        with pytest.raises(ProviderTimeout) as info:
            list(OpenAIProvider(target).stream(MESSAGES, GenerationParams()))
        assert time.monotonic() - started < 3
        assert str(info.value) == "The model's server could not be reached within 0.4 s."
        assert info.value.retryable
    finally:
        for s in [*fillers, listener]:
            s.close()


def test_server_refusing_stream_options_still_streams() -> None:
    def older_server(req: RecordedRequest) -> Reply:
        if "stream_options" in req.body:
            return Reply.error(400, "Unrecognized request argument supplied: stream_options")
        return Reply.text("still fine")

    with OpenAIFakeServer(older_server) as srv:
        p = provider(srv)
        for _ in range(2):
            text, done = collect(p.stream(MESSAGES, GenerationParams()))
            assert text == "still fine" and done.output_tokens is None
        assert ["stream_options" in r.body for r in srv.requests] == [True, False, False]


def test_slow_reader_still_gets_an_answer_that_arrived_in_time(openai_srv: OpenAIFakeServer) -> None:
    openai_srv.enqueue(Reply.text("a b c"))
    timeouts = Timeouts(connect_s=2, first_token_s=1.5, total_s=1.5)
    stream = provider(openai_srv, timeouts=timeouts).stream(MESSAGES, GenerationParams())
    items = [next(stream)]
    time.sleep(1.7)  # the reader (say, a busy UI thread) is late; the whole answer arrived long ago
    items.extend(stream)
    assert "".join(i.text for i in items[:-1]) == "a b c"  # type: ignore[union-attr]
    assert isinstance(items[-1], Completion)


def test_cancel_closes_a_non_streaming_request_still_being_computed(openai_srv: OpenAIFakeServer) -> None:
    openai_srv.enqueue(Reply.text("a long computation", first_chunk_delay=30))
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        list(provider(openai_srv, streaming=False).stream(MESSAGES, GenerationParams(), cancel=cancel))
    assert time.monotonic() - started < 5  # promptly: the answer would take 30 s
    assert openai_srv.client_closed.wait(5), "server did not see the connection close"


def test_provider_is_reusable_after_an_aborted_request(openai_srv: OpenAIFakeServer) -> None:
    p = provider(openai_srv)
    openai_srv.enqueue(Reply(headers_delay=30))
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    with pytest.raises(Cancelled):
        list(p.stream(MESSAGES, GenerationParams(), cancel=cancel))
    assert openai_srv.client_closed.wait(1)
    for _ in range(3):  # later requests (new pump threads, pooled connections) are unaffected
        text, _ = collect(p.stream(MESSAGES, GenerationParams()))
        assert text == Reply().full_text
