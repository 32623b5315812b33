"""The Anthropic provider against a loopback server speaking the Messages SSE wire format."""

from __future__ import annotations

import threading
import time

import pytest
from pydantic import SecretStr

from arena_app.providers.anthropic_provider import AnthropicProvider
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
    Cancelled,
    ContextTooLong,
    ProviderTimeout,
    RateLimited,
    StreamInterrupted,
    UpstreamUnavailable,
)
from tests.fakes.anthropic_server import AnthropicFakeServer, Reply
from tests.providers.conftest import ANTHROPIC_KEY

MESSAGES = [
    ChatMessage("system", "You are terse."),
    ChatMessage("user", "Hi"),
    ChatMessage("assistant", "Hello."),
    ChatMessage("user", "Tell me a fact."),
]


def provider(
    srv: AnthropicFakeServer, *, key: str | None = ANTHROPIC_KEY, timeouts: Timeouts | None = None
) -> AnthropicProvider:
    target = EndpointTarget(
        "claude-test",
        "claude-upstream",
        srv.base_url,
        SecretStr(key) if key else None,
        timeouts or Timeouts(),
    )
    return AnthropicProvider(target)


def collect(events: object) -> tuple[str, Completion]:
    items = list(events)  # type: ignore[call-overload]
    assert isinstance(items[-1], Completion)
    return "".join(i.text for i in items[:-1]), items[-1]


def test_streams_text_with_pings_and_maps_stop_reason(anthropic_srv: AnthropicFakeServer) -> None:
    anthropic_srv.enqueue(Reply.text("Water boils at 100 C.", pings=True, output_tokens=9))
    text, done = collect(provider(anthropic_srv).stream(MESSAGES, GenerationParams()))
    assert text == "Water boils at 100 C."
    assert done.finish_reason == "stop"  # end_turn, in the common vocabulary
    assert done.output_tokens == 9
    assert done.ttft_s is not None


def test_max_tokens_stop_reason_is_length(anthropic_srv: AnthropicFakeServer) -> None:
    anthropic_srv.enqueue(Reply.text("cut off", finish_reason="length"))
    _, done = collect(provider(anthropic_srv).stream(MESSAGES, GenerationParams()))
    assert done.finish_reason == "length"


def test_sends_system_separately_and_sampling_parameters(anthropic_srv: AnthropicFakeServer) -> None:
    params = GenerationParams(temperature=0.4, top_p=0.9, max_new_tokens=123, stop=("###",))
    collect(provider(anthropic_srv).stream(MESSAGES, params))
    req = anthropic_srv.requests[0]
    assert req.path == "/v1/messages"
    assert req.headers["authorization"] == f"Bearer {ANTHROPIC_KEY}"
    assert "anthropic-version" in req.headers
    body = req.body
    assert body["model"] == "claude-upstream"
    assert body["system"] == "You are terse."
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["max_tokens"] == 123
    assert body["temperature"] == 0.4
    assert body["top_p"] == 0.9
    assert body["stop_sequences"] == ["###"]
    assert body["stream"] is True


def test_top_p_one_is_not_sent_and_temperature_is_clamped(anthropic_srv: AnthropicFakeServer) -> None:
    collect(provider(anthropic_srv).stream(MESSAGES[1:], GenerationParams(temperature=1.5, top_p=1.0)))
    body = anthropic_srv.requests[0].body
    assert "top_p" not in body and "system" not in body
    assert body["temperature"] == 1.0


def test_missing_key_fails_without_a_request(anthropic_srv: AnthropicFakeServer) -> None:
    with pytest.raises(AuthenticationFailed, match="api_key_env"):
        list(provider(anthropic_srv, key=None).stream(MESSAGES, GenerationParams()))
    assert anthropic_srv.requests == []


def test_wrong_key(anthropic_srv: AnthropicFakeServer) -> None:
    with pytest.raises(AuthenticationFailed) as info:
        list(provider(anthropic_srv, key="sk-ant-wrong-999999999").stream(MESSAGES, GenerationParams()))
    assert "999999999" not in str(info.value)


@pytest.mark.parametrize(
    ("status", "message", "error_type"),
    [
        (429, "Number of request tokens has exceeded your rate limit", RateLimited),
        (529, "Overloaded", UpstreamUnavailable),
        (500, "Internal server error", UpstreamUnavailable),
        (400, "prompt is too long: 210000 tokens > 200000 maximum", ContextTooLong),
    ],
)
def test_http_errors(anthropic_srv: AnthropicFakeServer, status: int, message: str, error_type: type) -> None:
    anthropic_srv.enqueue(Reply.error(status, message))
    with pytest.raises(error_type):
        list(provider(anthropic_srv).stream(MESSAGES, GenerationParams()))


def test_error_event_mid_stream(anthropic_srv: AnthropicFakeServer) -> None:
    anthropic_srv.enqueue(Reply.text("one two three", error_event_after=2))
    got = []
    with pytest.raises(StreamInterrupted) as info:
        for ev in provider(anthropic_srv).stream(MESSAGES, GenerationParams()):
            got.append(ev)
    assert got == [TextDelta("one"), TextDelta(" two")]
    assert "overloaded_error" in str(info.value)


def test_error_event_before_text_is_retryable_unavailable(anthropic_srv: AnthropicFakeServer) -> None:
    anthropic_srv.enqueue(Reply.text("one", error_event_after=0))
    with pytest.raises(UpstreamUnavailable) as info:
        list(provider(anthropic_srv).stream(MESSAGES, GenerationParams()))
    assert info.value.retryable
    assert str(info.value) == "The model's server failed (overloaded_error); try again in a moment."


def test_disconnect_mid_stream(anthropic_srv: AnthropicFakeServer, caplog: pytest.LogCaptureFixture) -> None:
    anthropic_srv.enqueue(Reply.text("one two three", disconnect_after=1))
    with pytest.raises(StreamInterrupted) as info:
        list(provider(anthropic_srv).stream(MESSAGES, GenerationParams()))
    assert str(info.value) == "The model's answer broke off: the connection to its server was lost."
    assert "unexpected" not in caplog.text  # an ordinary network failure, not a bug with a traceback


def test_disconnect_before_any_text_is_retryable(anthropic_srv: AnthropicFakeServer) -> None:
    anthropic_srv.enqueue(Reply.text("one two three", disconnect_after=0))
    with pytest.raises(UpstreamUnavailable) as info:
        list(provider(anthropic_srv).stream(MESSAGES, GenerationParams()))
    assert info.value.retryable


def test_malformed_event(anthropic_srv: AnthropicFakeServer) -> None:
    anthropic_srv.enqueue(Reply.text("one two three", malformed_after=1))
    with pytest.raises(StreamInterrupted, match="malformed"):
        list(provider(anthropic_srv).stream(MESSAGES, GenerationParams()))


def test_first_token_timeout(anthropic_srv: AnthropicFakeServer) -> None:
    anthropic_srv.enqueue(Reply(first_chunk_delay=5))
    with pytest.raises(ProviderTimeout, match="within 0.3 s"):
        list(provider(anthropic_srv, timeouts=Timeouts(1, 0.3, 5)).stream(MESSAGES, GenerationParams()))
    assert anthropic_srv.client_closed.wait(2)


def test_cancel_closes_stalled_stream(anthropic_srv: AnthropicFakeServer) -> None:
    anthropic_srv.enqueue(Reply.text("first and then nothing for a long time", chunk_delay=30))
    cancel = threading.Event()
    stream = provider(anthropic_srv).stream(MESSAGES, GenerationParams(), cancel=cancel)
    assert next(stream) == TextDelta("first")
    cancel.set()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        next(stream)
    assert time.monotonic() - started < 5  # promptly: the server would stall for 30 s
    assert anthropic_srv.client_closed.wait(5)


def test_cancel_before_headers_closes_the_request(anthropic_srv: AnthropicFakeServer) -> None:
    anthropic_srv.enqueue(Reply(headers_delay=30))
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    with pytest.raises(Cancelled):
        list(provider(anthropic_srv).stream(MESSAGES, GenerationParams(), cancel=cancel))
    assert anthropic_srv.client_closed.wait(1.0)
