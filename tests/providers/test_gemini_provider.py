"""The Gemini provider (google-genai SDK) against a loopback server speaking Gemini's generateContent wire
format: streaming, finish reasons, usage, errors, cancellation, and the SDK kept away from the environment."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

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
    ProviderTimeout,
    RateLimited,
    StreamInterrupted,
    UpstreamUnavailable,
)
from arena_app.providers.gemini_provider import GeminiProvider
from arena_app.providers.registry import ModelRegistry
from tests.fakes.gemini_server import GeminiFakeServer, GeminiReply

GEMINI_KEY = "gm-test-key-0123456789abcdef"
MESSAGES = [
    ChatMessage("system", "You are terse."),
    ChatMessage("user", "Hi"),
    ChatMessage("assistant", "Hello."),
    ChatMessage("user", "Tell me a fact."),
]


@pytest.fixture
def gemini_srv() -> Iterator[GeminiFakeServer]:
    with GeminiFakeServer(api_key=GEMINI_KEY) as srv:
        yield srv


def provider(
    srv: GeminiFakeServer,
    *,
    key: str | None = GEMINI_KEY,
    streaming: bool = True,
    timeouts: Timeouts | None = None,
) -> GeminiProvider:
    target = EndpointTarget(
        "gemini-test",
        "gemini-2.5-flash",
        srv.base_url,
        SecretStr(key) if key else None,
        timeouts or Timeouts(),
    )
    return GeminiProvider(target, streaming=streaming)


def collect(events: object) -> tuple[str, Completion]:
    items = list(events)  # type: ignore[call-overload]
    assert isinstance(items[-1], Completion)
    assert all(isinstance(i, TextDelta) for i in items[:-1])
    return "".join(i.text for i in items[:-1]), items[-1]


def test_streams_text_and_sends_the_request_in_geminis_shape(gemini_srv: GeminiFakeServer) -> None:
    gemini_srv.enqueue(GeminiReply.text("Water boils at 100 C.", output_tokens=9))
    params = GenerationParams(temperature=0.4, top_p=0.9, max_new_tokens=123, stop=("###",))
    text, done = collect(provider(gemini_srv).stream(MESSAGES, params))
    assert text == "Water boils at 100 C."
    assert (done.finish_reason, done.output_tokens) == ("stop", 9)
    assert done.ttft_s is not None
    req = gemini_srv.requests[0]
    assert req.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert req.headers["x-goog-api-key"] == GEMINI_KEY
    assert req.body["systemInstruction"]["parts"] == [{"text": "You are terse."}]
    assert [(c["role"], c["parts"][0]["text"]) for c in req.body["contents"]] == [
        ("user", "Hi"),
        ("model", "Hello."),
        ("user", "Tell me a fact."),
    ]
    assert req.body["generationConfig"] == {
        "temperature": 0.4,
        "topP": 0.9,
        "maxOutputTokens": 123,
        "stopSequences": ["###"],
    }
    assert "tools" not in req.body and "toolConfig" not in req.body


@pytest.mark.parametrize(
    ("finish", "expected"),
    [
        ("length", "length"),
        ("safety", "content_filter"),
        ("recitation", "content_filter"),
        ("other", "other"),
    ],
)
def test_finish_reasons_use_the_common_vocabulary(
    gemini_srv: GeminiFakeServer, finish: str, expected: str
) -> None:
    gemini_srv.enqueue(GeminiReply.text("partial answer", finish_reason=finish))
    _, done = collect(provider(gemini_srv).stream(MESSAGES, GenerationParams()))
    assert done.finish_reason == expected


def test_thoughts_are_not_shown_and_usage_may_be_missing(gemini_srv: GeminiFakeServer) -> None:
    gemini_srv.enqueue(GeminiReply.text("The answer.", thoughts=["Let me think", " hard"], usage=False))
    text, done = collect(provider(gemini_srv).stream(MESSAGES, GenerationParams()))
    assert text == "The answer."
    assert done.output_tokens is None


def test_extra_body_is_merged_into_the_request(gemini_srv: GeminiFakeServer) -> None:
    safety = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    params = GenerationParams(extra_body={"safetySettings": safety})
    collect(provider(gemini_srv).stream(MESSAGES, params))
    assert gemini_srv.requests[0].body["safetySettings"] == safety


def test_no_stream_type_makes_one_generate_content_request(gemini_srv: GeminiFakeServer) -> None:
    gemini_srv.enqueue(GeminiReply.text("all at once", output_tokens=3))
    text, done = collect(provider(gemini_srv, streaming=False).stream(MESSAGES, GenerationParams()))
    assert (text, done.finish_reason, done.output_tokens) == ("all at once", "stop", 3)
    assert gemini_srv.requests[0].path == "/v1beta/models/gemini-2.5-flash:generateContent"


def test_a_blocked_prompt_is_a_refused_request(gemini_srv: GeminiFakeServer) -> None:
    gemini_srv.enqueue(GeminiReply(block_reason="SAFETY"))
    with pytest.raises(BadRequest, match=r"the prompt was blocked \(SAFETY\)") as caught:
        list(provider(gemini_srv).stream(MESSAGES, GenerationParams()))
    assert not caught.value.counts_as_failure


@pytest.mark.parametrize(
    ("reply", "error", "text"),
    [
        (
            GeminiReply.error(400, "Invalid value at 'generation_config.temperature'"),
            BadRequest,
            "temperature",
        ),
        (GeminiReply.error(401, "Request had invalid authentication"), AuthenticationFailed, "HTTP 401"),
        (GeminiReply.error(403, "The caller does not have permission"), AuthenticationFailed, "HTTP 403"),
        (GeminiReply.error(404, "models/x is not found"), BadRequest, "HTTP 404"),
        (GeminiReply.error(429, "Resource has been exhausted"), RateLimited, "rate-limiting"),
        (GeminiReply.error(500, "Internal error encountered."), UpstreamUnavailable, "HTTP 500"),
        (GeminiReply.error(503, "The model is overloaded."), UpstreamUnavailable, "HTTP 503"),
        (
            GeminiReply.error(
                400, "The input token count (1048577) exceeds the maximum number of tokens allowed"
            ),
            ContextTooLong,
            "too long",
        ),
    ],
)
def test_http_errors_become_provider_errors(
    gemini_srv: GeminiFakeServer, reply: GeminiReply, error: type[Exception], text: str
) -> None:
    gemini_srv.enqueue(reply)
    with pytest.raises(error, match=text) as caught:
        list(provider(gemini_srv).stream(MESSAGES, GenerationParams()))
    assert GEMINI_KEY not in str(caught.value)
    if isinstance(caught.value, UpstreamUnavailable | RateLimited):
        assert caught.value.retryable


def test_a_wrong_key_is_an_authentication_failure_although_google_says_400(
    gemini_srv: GeminiFakeServer,
) -> None:
    with pytest.raises(AuthenticationFailed, match="API_KEY_INVALID") as caught:
        list(provider(gemini_srv, key="gm-wrong-key-99999999").stream(MESSAGES, GenerationParams()))
    assert "gm-wrong-key" not in str(caught.value)


def test_a_missing_key_fails_before_any_request_and_the_environment_is_not_read(
    gemini_srv: GeminiFakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", GEMINI_KEY)  # the SDK would pick these up by itself
    monkeypatch.setenv("GOOGLE_API_KEY", GEMINI_KEY)
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "true")
    with pytest.raises(AuthenticationFailed, match="No API key is configured"):
        list(provider(gemini_srv, key=None).stream(MESSAGES, GenerationParams()))
    assert gemini_srv.requests == []


@pytest.mark.parametrize(
    ("reply", "error", "text"),
    [
        (GeminiReply.text("a b c d", disconnect_after=2), StreamInterrupted, "connection"),
        (GeminiReply.text("a b c d", malformed_after=2), StreamInterrupted, "malformed"),
        (GeminiReply.text("a b c d", error_event_after=2), StreamInterrupted, "reported an error"),
    ],
)
def test_faults_after_text_are_interruptions(
    gemini_srv: GeminiFakeServer, reply: GeminiReply, error: type[Exception], text: str
) -> None:
    gemini_srv.enqueue(reply)
    got: list[str] = []
    with pytest.raises(error, match=text):
        for event in provider(gemini_srv).stream(MESSAGES, GenerationParams()):
            assert isinstance(event, TextDelta)
            got.append(event.text)
    assert "".join(got) == "a b"


def test_an_error_event_before_any_text_is_a_retryable_server_failure(gemini_srv: GeminiFakeServer) -> None:
    gemini_srv.enqueue(GeminiReply.text("never shown", error_event_after=0))
    with pytest.raises(UpstreamUnavailable, match="HTTP 500") as caught:
        list(provider(gemini_srv).stream(MESSAGES, GenerationParams()))
    assert caught.value.retryable


def test_cancel_mid_stream_closes_the_upstream_connection(gemini_srv: GeminiFakeServer) -> None:
    gemini_srv.enqueue(GeminiReply.text("one two three four", chunk_delay=5.0))
    cancel = threading.Event()
    gen = provider(gemini_srv).stream(MESSAGES, GenerationParams(), cancel)
    assert next(gen) == TextDelta("one")
    cancel.set()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        next(gen)
    assert time.monotonic() - started < 1.0
    assert gemini_srv.client_closed.wait(2.0)


@pytest.mark.parametrize("streaming", [True, False])
def test_cancel_before_any_response_closes_the_request(gemini_srv: GeminiFakeServer, streaming: bool) -> None:
    gemini_srv.enqueue(GeminiReply.text("late", headers_delay=5.0))
    cancel = threading.Event()
    gen = provider(gemini_srv, streaming=streaming).stream(MESSAGES, GenerationParams(), cancel)
    threading.Timer(0.3, cancel.set).start()
    with pytest.raises(Cancelled):
        next(gen)
    assert gemini_srv.client_closed.wait(2.0)


def test_first_token_timeout(gemini_srv: GeminiFakeServer) -> None:
    gemini_srv.enqueue(GeminiReply.text("slow", first_chunk_delay=5.0))
    timeouts = Timeouts(connect_s=2, first_token_s=0.4, total_s=10)
    with pytest.raises(ProviderTimeout, match="did not answer within 0.4 s"):
        list(provider(gemini_srv, timeouts=timeouts).stream(MESSAGES, GenerationParams()))


def test_registry_serves_gemini_entries_with_the_fastchat_key_variable(gemini_srv: GeminiFakeServer) -> None:
    """FastChat reads GEMINI_API_KEY; here it is used only for the vendor's own URL, so the loopback test
    passes the key through api_key_env instead and checks the implicit one separately."""
    gemini_srv.default = GeminiReply.text("Hi from Gemini")
    reg = ModelRegistry.from_mapping(
        {
            "gemini-flash": {
                "api_type": "gemini",
                "model_name": "gemini-2.5-flash",
                "api_base": gemini_srv.base_url,
                "api_key_env": "MY_GEMINI_KEY",
            },
            "gemini-once": {
                "api_type": "gemini_no_stream",
                "api_base": gemini_srv.base_url,
                "api_key": GEMINI_KEY,
            },
            "gemini-vendor": {"api_type": "gemini"},
        },
        env={"MY_GEMINI_KEY": GEMINI_KEY, "GEMINI_API_KEY": "gm-vendor-key"},
    )
    for name in ("gemini-flash", "gemini-once"):
        text = "".join(e.text for e in reg.stream(name, MESSAGES) if isinstance(e, TextDelta))
        assert text == "Hi from Gemini"
    assert [r.path.split(":")[1] for r in gemini_srv.requests] == [
        "streamGenerateContent?alt=sse",
        "generateContent",
    ]
    vendor = {h.name: h for h in reg.health_report()}["gemini-vendor"]
    assert vendor.key_source == "env GEMINI_API_KEY (implicit)" and vendor.key_configured
    assert reg.get("gemini-vendor").endpoints == ("generativelanguage.googleapis.com",)
    reg.close()
