"""ModelRegistry: pools, endpoint choice, concurrency limits, retries, health, cancellation."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from arena_app.providers.base import ChatMessage, Completion, GenerationParams, TextDelta
from arena_app.providers.endpoints import API_TYPES
from arena_app.providers.errors import (
    AuthenticationFailed,
    BadRequest,
    Cancelled,
    EndpointFileError,
    ModelBusy,
    ProviderTimeout,
    StreamInterrupted,
    UnknownModelError,
    UpstreamUnavailable,
)
from arena_app.providers.registry import PROVIDERS, ModelRegistry
from tests.fakes.openai_server import OpenAIFakeServer, Reply

MSGS = [ChatMessage("user", "hello")]
ENV = {"TEST_KEY": "sk-registry-secret-123456"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def servers() -> Iterator[list[OpenAIFakeServer]]:
    srvs = [OpenAIFakeServer().start() for _ in range(2)]
    yield srvs
    for s in srvs:
        s.close()


def entry(*bases: str, **extra: object) -> dict[str, object]:
    return {"api_type": "openai", "api_base": list(bases), "api_key_env": "TEST_KEY", **extra}


def text_of(events: Iterator[object]) -> str:
    items = list(events)
    assert isinstance(items[-1], Completion)
    return "".join(i.text for i in items if isinstance(i, TextDelta))


def test_every_api_type_has_a_provider() -> None:
    assert set(PROVIDERS) == set(API_TYPES)


def test_pools_follow_flags_weight_and_health(servers: list[OpenAIFakeServer]) -> None:
    base = servers[0].base_url
    reg = ModelRegistry.from_mapping(
        {
            "both": entry(base, organization="Acme"),
            "battle-only": entry(base, anony_only=True),
            "chat-only": entry(base, battle=False),
            "zero-weight": entry(base, weight=0),
        },
        env=ENV,
    )
    assert [m.name for m in reg.models()] == ["both", "battle-only", "chat-only", "zero-weight"]
    assert [m.name for m in reg.battle_models()] == ["both", "battle-only"]
    assert [m.name for m in reg.chat_models()] == ["both", "chat-only", "zero-weight"]
    info = reg.get("both")
    assert info.organization == "Acme" and info.weight == 1.0 and info.battle and info.chat
    assert info.endpoints == (servers[0].base_url.split("//")[1].split("/")[0],)
    with pytest.raises(UnknownModelError, match="unknown model 'nope'; known models: both"):
        reg.get("nope")
    with pytest.raises(UnknownModelError):
        reg.stream("nope", MSGS)


def test_recommended_config_becomes_default_params(servers: list[OpenAIFakeServer]) -> None:
    config = {"temperature": 0.2, "top_p": 0.5, "max_new_tokens": 99}
    reg = ModelRegistry.from_mapping(
        {"m": entry(servers[0].base_url, model_name="up-name", recommended_config=config)}, env=ENV
    )
    assert reg.get("m").params == GenerationParams(temperature=0.2, top_p=0.5, max_new_tokens=99)
    text_of(reg.stream("m", MSGS))
    body = servers[0].requests[0].body
    sent = (body["model"], body["temperature"], body["top_p"], body["max_tokens"])
    assert sent == ("up-name", 0.2, 0.5, 99)
    assert servers[0].requests[0].headers["authorization"] == "Bearer sk-registry-secret-123456"


def test_sequential_requests_rotate_over_api_bases(servers: list[OpenAIFakeServer]) -> None:
    reg = ModelRegistry.from_mapping({"m": entry(*(s.base_url for s in servers))}, env=ENV)
    for _ in range(6):
        assert text_of(reg.stream("m", MSGS)) == Reply().full_text
    assert [len(s.requests) for s in servers] == [3, 3]


def test_concurrent_requests_go_to_the_least_busy_endpoint(servers: list[OpenAIFakeServer]) -> None:
    for s in servers:
        s.default = Reply.text("a b c", chunk_delay=0.3)
    reg = ModelRegistry.from_mapping({"m": entry(*(s.base_url for s in servers))}, env=ENV)
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: text_of(reg.stream("m", MSGS)), range(6)))
    assert results == ["a b c"] * 6
    assert [len(s.requests) for s in servers] == [3, 3]
    assert all(s.max_in_flight == 3 for s in servers)


def test_concurrency_limit_is_respected(servers: list[OpenAIFakeServer]) -> None:
    srv = servers[0]
    srv.default = Reply.text("x y", chunk_delay=0.2)
    reg = ModelRegistry.from_mapping(
        {"m": entry(srv.base_url, max_concurrency=2, queue_timeout_s=10)}, env=ENV
    )
    with ThreadPoolExecutor(5) as pool:
        results = list(pool.map(lambda _: text_of(reg.stream("m", MSGS)), range(5)))
    assert results == ["x y"] * 5
    assert srv.max_in_flight == 2
    assert reg.health_report()[0].endpoints[0].in_flight == 0


def test_waiting_too_long_for_a_slot_is_model_busy(servers: list[OpenAIFakeServer]) -> None:
    srv = servers[0]
    srv.default = Reply.text("slow answer", chunk_delay=2)
    reg = ModelRegistry.from_mapping(
        {"m": entry(srv.base_url, max_concurrency=1, queue_timeout_s=0.3)}, env=ENV
    )
    first = reg.stream("m", MSGS)
    assert next(first) == TextDelta("slow")
    started = time.monotonic()
    with pytest.raises(ModelBusy, match="busy") as info:
        list(reg.stream("m", MSGS))
    assert 0.25 < time.monotonic() - started < 2
    assert not info.value.counts_as_failure
    first.close()  # type: ignore[attr-defined]
    assert reg.health_report()[0].endpoints[0].in_flight == 0
    assert len(srv.requests) == 1


def test_retry_before_first_token_uses_the_other_endpoint(servers: list[OpenAIFakeServer]) -> None:
    bad, good = servers
    bad.default = Reply.error(500)
    reg = ModelRegistry.from_mapping({"m": entry(bad.base_url, good.base_url, retries=1)}, env=ENV)
    for _ in range(2):
        assert text_of(reg.stream("m", MSGS)) == Reply().full_text
    assert len(good.requests) == 2
    assert len(bad.requests) >= 1
    assert reg.health_report()[0].endpoints[0].failures == len(bad.requests)


def test_no_retry_after_the_first_token(servers: list[OpenAIFakeServer]) -> None:
    a, b = servers
    for s in servers:
        s.default = Reply.text("one two three", disconnect_after=1)
    reg = ModelRegistry.from_mapping({"m": entry(a.base_url, b.base_url, retries=3)}, env=ENV)
    with pytest.raises(StreamInterrupted):
        list(reg.stream("m", MSGS))
    assert len(a.requests) + len(b.requests) == 1


def test_auth_errors_are_not_retried(servers: list[OpenAIFakeServer]) -> None:
    srv = servers[0]
    srv.default = Reply.error(401)
    reg = ModelRegistry.from_mapping({"m": entry(srv.base_url, retries=3)}, env=ENV, retry_backoff_s=0)
    with pytest.raises(AuthenticationFailed):
        list(reg.stream("m", MSGS))
    assert len(srv.requests) == 1


def test_health_cooldown_and_recovery(servers: list[OpenAIFakeServer]) -> None:
    srv = servers[0]
    clock = FakeClock()
    reg = ModelRegistry.from_mapping(
        {"flaky": entry(srv.base_url, retries=0), "steady": entry(servers[1].base_url)},
        env=ENV,
        clock=clock,
        failure_threshold=2,
        cooldown_s=30,
    )
    srv.enqueue(Reply.error(500), Reply.error(500), Reply.error(503))
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable):
            list(reg.stream("flaky", MSGS))
    assert [m.name for m in reg.battle_models()] == ["steady"]
    report = {h.name: h for h in reg.health_report()}
    ep = report["flaky"].endpoints[0]
    assert not report["flaky"].healthy and ep.consecutive_failures == 2 and ep.cooldown_remaining_s == 30
    assert "HTTP 500" in (ep.last_error or "")
    assert "flaky" in [m.name for m in reg.chat_models()]  # still selectable by name

    clock.now += 31  # cool-down over: back in battles without anyone doing anything
    assert [m.name for m in reg.battle_models()] == ["flaky", "steady"]
    with pytest.raises(UpstreamUnavailable):  # half-open: one more failure -> out again at once
        list(reg.stream("flaky", MSGS))
    assert [m.name for m in reg.battle_models()] == ["steady"]

    clock.now += 31
    assert text_of(reg.stream("flaky", MSGS))  # a success resets the count
    assert reg.health_report()[0].endpoints[0].consecutive_failures == 0
    assert [m.name for m in reg.battle_models()] == ["flaky", "steady"]


def test_user_errors_do_not_hurt_health(servers: list[OpenAIFakeServer]) -> None:
    srv = servers[0]
    srv.default = Reply.text("a b c d", chunk_delay=1)
    reg = ModelRegistry.from_mapping({"m": entry(srv.base_url)}, env=ENV, failure_threshold=1)
    for _ in range(2):
        cancel = threading.Event()
        stream = reg.stream("m", MSGS, cancel=cancel)
        next(stream)
        cancel.set()
        with pytest.raises(Cancelled):
            list(stream)
    assert reg.is_healthy("m")
    assert reg.health_report()[0].endpoints[0].in_flight == 0
    assert srv.client_closed.wait(1)


@pytest.mark.parametrize(
    "params",
    [
        GenerationParams(temperature=math.nan),
        GenerationParams(top_p=math.inf),
        GenerationParams(max_new_tokens=0),
    ],
)
def test_parameters_no_provider_can_send_are_refused_before_any_endpoint(
    servers: list[OpenAIFakeServer], params: GenerationParams
) -> None:
    """The last guard behind the services' range checks: BadRequest, no request, health untouched."""
    srv = servers[0]
    reg = ModelRegistry.from_mapping({"m": entry(srv.base_url)}, env=ENV, failure_threshold=1)
    for _ in range(3):
        with pytest.raises(BadRequest, match="Invalid generation parameters"):
            list(reg.stream("m", MSGS, params))
    assert srv.requests == []
    assert reg.is_healthy("m") and reg.health_report()[0].endpoints[0].failures == 0
    assert text_of(reg.stream("m", MSGS))  # and it still answers


def test_unhealthy_endpoint_is_skipped_while_another_is_healthy(servers: list[OpenAIFakeServer]) -> None:
    bad, good = servers
    bad.default = Reply.error(502)
    reg = ModelRegistry.from_mapping(
        {"m": entry(bad.base_url, good.base_url, retries=1)}, env=ENV, failure_threshold=1, cooldown_s=60
    )
    for _ in range(4):
        text_of(reg.stream("m", MSGS))
    assert len(bad.requests) == 1  # after its first failure it is cooling down
    assert reg.is_healthy("m")


def test_missing_key_env_is_a_clear_error(tmp_path: object, servers: list[OpenAIFakeServer]) -> None:
    data = {"gpt-x": entry(servers[0].base_url) | {"api_key_env": "NOT_SET_ANYWHERE"}}
    with pytest.raises(EndpointFileError, match="gpt-x: api_key_env NOT_SET_ANYWHERE is not set"):
        ModelRegistry.from_mapping(data, env={})
    kept = ModelRegistry.from_mapping(data, env={}, missing_keys="keep")
    assert kept.health_report()[0].key_configured is False
    assert kept.battle_models() == []  # every request would fail
    skipped = ModelRegistry.from_mapping(
        data | {"other": entry(servers[0].base_url)}, env=ENV, missing_keys="skip"
    )
    assert [m.name for m in skipped.models()] == ["other"]
    assert "NOT_SET_ANYWHERE" in skipped.skipped["gpt-x"]


def test_identity_words_cover_names_and_organizations(servers: list[OpenAIFakeServer]) -> None:
    base = servers[0].base_url
    reg = ModelRegistry.from_mapping(
        {
            "llama-3.1-8b-instruct": entry(
                base, model_name="meta-llama/Llama-3.1-8B-Instruct", organization="Meta"
            ),
            "claude-3-5-sonnet": entry(base, organization="Anthropic"),
        },
        env=ENV,
    )
    words = reg.identity_words()
    for w in (
        "llama-3.1-8b-instruct",
        "meta-llama/llama-3.1-8b-instruct",
        "llama",
        "meta",
        "claude",
        "sonnet",
        "anthropic",
    ):
        assert w in words
    assert "instruct" not in words


def test_no_secret_in_any_public_value(servers: list[OpenAIFakeServer]) -> None:
    reg = ModelRegistry.from_mapping(
        {
            "m": entry(servers[0].base_url),
            "n": {
                "api_type": "openai",
                "api_base": servers[1].base_url,
                "api_key": "sk-inline-secret-987654",
            },
        },
        env=ENV,
    )
    dumped = repr(reg.models()) + repr(reg.health_report()) + repr(reg.identity_words()) + repr(reg)
    assert "sk-registry-secret-123456" not in dumped and "sk-inline-secret-987654" not in dumped


def test_credentials_in_api_base_are_not_shown(servers: list[OpenAIFakeServer]) -> None:
    base = servers[0].base_url.replace("http://", "http://proxyuser:proxy-pass-4242@")
    reg = ModelRegistry.from_mapping({"m": entry(base)}, env=ENV)
    host = servers[0].base_url.removeprefix("http://").split("/")[0]
    assert reg.models()[0].endpoints == (host,)
    dumped = repr(reg.models()) + repr(reg.health_report()) + repr(reg)
    assert "proxy-pass-4242" not in dumped and "proxyuser" not in dumped


def test_serve_logging_never_shows_request_urls_with_credentials(
    servers: list[OpenAIFakeServer], caplog: pytest.LogCaptureFixture
) -> None:
    from arena_app.cli.serve import configure_logging

    configure_logging()  # what `arena serve` does: the SDKs' HTTP client would log each URL at INFO
    base = servers[0].base_url.replace("http://", "http://proxyuser:proxy-pass-4242@")
    reg = ModelRegistry.from_mapping({"m": entry(base)}, env=ENV)
    with caplog.at_level(logging.INFO):
        list(reg.stream("m", MSGS))
    assert len(servers[0].requests) == 1
    assert "proxy-pass-4242" not in caplog.text


def test_cancel_while_waiting_for_a_slot(servers: list[OpenAIFakeServer]) -> None:
    srv = servers[0]
    srv.default = Reply.text("slow answer", chunk_delay=2)
    reg = ModelRegistry.from_mapping(
        {"m": entry(srv.base_url, max_concurrency=1, queue_timeout_s=30)}, env=ENV
    )
    first = reg.stream("m", MSGS)
    next(first)
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        list(reg.stream("m", MSGS, cancel=cancel))
    assert time.monotonic() - started < 5  # promptly: the queue timeout is 30 s
    first.close()  # type: ignore[attr-defined]
    assert len(srv.requests) == 1


def test_cancel_before_the_server_sends_headers_returns_promptly(servers: list[OpenAIFakeServer]) -> None:
    srv = servers[0]
    srv.default = Reply(headers_delay=3)
    reg = ModelRegistry.from_mapping({"m": entry(srv.base_url)}, env=ENV)
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        list(reg.stream("m", MSGS, cancel=cancel))
    assert time.monotonic() - started < 2.0  # the server would answer after 3 s
    assert reg.health_report()[0].endpoints[0].in_flight == 0
    assert reg.is_healthy("m")


def test_timeout_counts_against_health_and_names_the_limit(servers: list[OpenAIFakeServer]) -> None:
    srv = servers[0]
    srv.default = Reply(first_chunk_delay=3)
    reg = ModelRegistry.from_mapping(
        {"m": entry(srv.base_url, first_token_timeout_s=0.3, retries=1)}, env=ENV, failure_threshold=1
    )
    with pytest.raises(ProviderTimeout) as info:
        list(reg.stream("m", MSGS))
    assert info.value.for_side("Model A") == "Model A did not answer within 0.3 s."
    assert len(srv.requests) == 1  # a first-token timeout is not retried (the user already waited)
    assert not reg.is_healthy("m")


def test_full_healthy_endpoint_is_waited_for_rather_than_a_cooling_one(
    servers: list[OpenAIFakeServer],
) -> None:
    bad, good = servers
    bad.default = Reply.error(500)
    good.default = Reply.text("slow answer", chunk_delay=2)
    reg = ModelRegistry.from_mapping(
        {"m": entry(bad.base_url, good.base_url, max_concurrency=1, queue_timeout_s=0.3, retries=1)},
        env=ENV,
        failure_threshold=1,
        cooldown_s=60,
    )
    first = reg.stream("m", MSGS)
    assert next(first) == TextDelta("slow")  # the 500 from `bad` was retried on `good`
    assert len(bad.requests) == 1
    with pytest.raises(ModelBusy):
        list(reg.stream("m", MSGS))
    assert len(bad.requests) == 1  # the cooling endpoint was not used although it had a free slot
    first.close()  # type: ignore[attr-defined]


def test_check_counts_a_silent_endpoint_against_its_health(servers: list[OpenAIFakeServer]) -> None:
    srv = servers[0]
    srv.default = Reply.text("late", first_chunk_delay=5)
    reg = ModelRegistry.from_mapping({"m": entry(srv.base_url)}, env=ENV, failure_threshold=1)
    [result] = reg.check("m", timeout_s=0.3)
    assert not result.ok and "within 0.3 s" in result.detail
    endpoint = reg.health_report()[0].endpoints[0]
    assert endpoint.failures == 1 and endpoint.in_flight == 0
    assert not reg.is_healthy("m")  # failure_threshold=1: cooling down
