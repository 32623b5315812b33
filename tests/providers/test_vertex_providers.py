"""The Vertex AI types: ``vertex`` (Gemini, google-genai) and ``anthropic_message_vertex`` (Claude, the
anthropic SDK's AnthropicVertex), with real Application Default Credentials: a service-account key file
whose token endpoint is a loopback fake, so google-auth signs and exchanges a JWT as it would with Google.

Every test points GOOGLE_APPLICATION_CREDENTIALS at a file: google-auth never falls back to probing the
Compute Engine metadata server (a non-loopback address) here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from arena_app.providers.base import ChatMessage, Completion, TextDelta
from arena_app.providers.errors import (
    AuthenticationFailed,
    Cancelled,
    EndpointFileError,
    RateLimited,
    UpstreamUnavailable,
)
from arena_app.providers.registry import ModelRegistry
from tests.fakes.anthropic_vertex_server import AnthropicVertexFakeServer, Reply
from tests.fakes.gemini_server import GeminiFakeServer, GeminiReply
from tests.fakes.google_token_server import GoogleTokenServer, service_account_file

MESSAGES = [ChatMessage("system", "You are terse."), ChatMessage("user", "Tell me a fact.")]
PROJECT = "arena-test"
TOKEN = GoogleTokenServer.access_token


@pytest.fixture
def tokens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GoogleTokenServer]:
    with GoogleTokenServer() as srv:
        key_file = service_account_file(tmp_path, srv.token_uri, project=PROJECT)
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
        yield srv


def vertex_entry(api_type: str, base_url: str, **extra: object) -> dict[str, object]:
    return {
        "api_type": api_type,
        "api_base": base_url,
        "project_id": PROJECT,
        "location": "us-east5",
        **extra,
    }


def answer(reg: ModelRegistry, name: str) -> tuple[str, Completion]:
    events = list(reg.stream(name, MESSAGES))
    assert isinstance(events[-1], Completion)
    return "".join(e.text for e in events if isinstance(e, TextDelta)), events[-1]


def test_gemini_on_vertex_uses_adc_and_the_project_path(tokens: GoogleTokenServer) -> None:
    with GeminiFakeServer([GeminiReply.text("Hi from Vertex", output_tokens=4)], bearer_token=TOKEN) as srv:
        srv.default = GeminiReply.text("again")
        reg = ModelRegistry.from_mapping(
            {"gemini-pro": vertex_entry("vertex", srv.base_url, model_name="gemini-2.5-pro")}
        )
        assert answer(reg, "gemini-pro")[0] == "Hi from Vertex"
        assert answer(reg, "gemini-pro")[0] == "again"
        reg.close()
    req = srv.requests[0]
    assert req.path == (
        f"/v1beta1/projects/{PROJECT}/locations/us-east5/publishers/google/models/gemini-2.5-pro"
        ":streamGenerateContent?alt=sse"
    )
    assert req.headers["authorization"] == f"Bearer {TOKEN}"
    assert "x-goog-api-key" not in req.headers
    assert req.body["systemInstruction"]["parts"] == [{"text": "You are terse."}]
    assert len(tokens.requests) == 1  # the access token is cached for the second request
    assert tokens.claims[0]["iss"] == f"arena@{PROJECT}.iam.gserviceaccount.com"
    assert tokens.claims[0]["scope"] == "https://www.googleapis.com/auth/cloud-platform"


def test_claude_on_vertex_names_the_model_in_the_url(tokens: GoogleTokenServer) -> None:
    with AnthropicVertexFakeServer(
        [Reply.text("Hi from Claude", output_tokens=5)], bearer_token=TOKEN
    ) as srv:
        reg = ModelRegistry.from_mapping(
            {"claude": vertex_entry("anthropic_message_vertex", srv.base_url, model_name="claude-sonnet-4-5")}
        )
        text, done = answer(reg, "claude")
        reg.close()
    assert (text, done.finish_reason, done.output_tokens) == ("Hi from Claude", "stop", 5)
    assert srv.calls == [(PROJECT, "us-east5", "claude-sonnet-4-5", "streamRawPredict")]
    req = srv.requests[0]
    assert req.headers["authorization"] == f"Bearer {TOKEN}"
    assert "model" not in req.body and req.body["anthropic_version"]
    assert req.body["system"] == "You are terse." and req.body["max_tokens"] == 1024


@pytest.mark.parametrize("api_type", ["vertex", "anthropic_message_vertex"])
def test_refused_credentials_and_missing_credentials_are_authentication_failures(
    api_type: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = GeminiFakeServer() if api_type == "vertex" else AnthropicVertexFakeServer()
    with GoogleTokenServer(refuse=True) as refusing, server as srv:
        reg = ModelRegistry.from_mapping({"m": vertex_entry(api_type, srv.base_url, retries=0)})
        monkeypatch.setenv(
            "GOOGLE_APPLICATION_CREDENTIALS", str(service_account_file(tmp_path, refusing.token_uri))
        )
        with pytest.raises(AuthenticationFailed, match="Google refused the model's credentials"):
            answer(reg, "m")
        assert len(refusing.requests) == 1
        reg.close()
        reg = ModelRegistry.from_mapping({"m": vertex_entry(api_type, srv.base_url, retries=0)})
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-such-key.json"))
        with pytest.raises(AuthenticationFailed, match="No Google Cloud credentials were found"):
            answer(reg, "m")
        reg.close()
        assert srv.requests == []  # nothing reached the model without credentials


@pytest.mark.parametrize("api_type", ["vertex", "anthropic_message_vertex"])
def test_a_token_the_model_refuses_is_an_authentication_failure(
    api_type: str, tokens: GoogleTokenServer
) -> None:
    server = (
        GeminiFakeServer(bearer_token="another-token")
        if api_type == "vertex"
        else AnthropicVertexFakeServer(bearer_token="another-token")
    )
    with server as srv:
        reg = ModelRegistry.from_mapping({"m": vertex_entry(api_type, srv.base_url)})
        with pytest.raises(AuthenticationFailed, match="HTTP 401"):
            answer(reg, "m")
        reg.close()


def test_vertex_errors_and_cancellation(tokens: GoogleTokenServer) -> None:
    with (
        GeminiFakeServer([GeminiReply.error(429), GeminiReply.error(500)], bearer_token=TOKEN) as gemini,
        AnthropicVertexFakeServer(
            [Reply.error(429), Reply.text("a b c", chunk_delay=5)], bearer_token=TOKEN
        ) as claude,
    ):
        reg = ModelRegistry.from_mapping(
            {
                "g": vertex_entry("vertex", gemini.base_url, retries=0),
                "c": vertex_entry("anthropic_message_vertex", claude.base_url, retries=0),
            }
        )
        with pytest.raises(RateLimited):
            answer(reg, "g")
        with pytest.raises(UpstreamUnavailable, match="HTTP 500"):
            answer(reg, "g")
        with pytest.raises(RateLimited):
            answer(reg, "c")
        cancel = threading.Event()
        gen = reg.stream("c", MESSAGES, cancel=cancel)
        assert next(gen) == TextDelta("a")
        cancel.set()
        started = time.monotonic()
        with pytest.raises(Cancelled):
            next(gen)
        assert time.monotonic() - started < 1.0
        assert claude.client_closed.wait(2.0)
        reg.close()


def test_project_and_location_come_from_the_entry_or_fastchats_variables() -> None:
    entries = {
        "g": {"api_type": "vertex", "model_name": "gemini-2.5-pro"},
        "c": {"api_type": "anthropic_message_vertex", "location": "europe-west1"},
    }
    reg = ModelRegistry.from_mapping(entries, env={"GCP_PROJECT_ID": PROJECT, "GCP_LOCATION": "us-east5"})
    assert reg.get("g").endpoints == ("us-east5-aiplatform.googleapis.com",)
    assert reg.get("c").endpoints == ("europe-west1-aiplatform.googleapis.com",)  # the entry wins
    report = {h.name: h for h in reg.health_report()}
    assert report["g"].key_source == "google ADC" and report["g"].healthy  # no key needed
    reg.close()
    reg = ModelRegistry.from_mapping(entries, env={"GOOGLE_CLOUD_PROJECT": PROJECT})
    assert reg.get("g").endpoints == ("aiplatform.googleapis.com",)  # location defaults to global
    reg.close()
    with pytest.raises(EndpointFileError) as caught:
        ModelRegistry.from_mapping(entries, env={})
    assert len(caught.value.problems) == 2  # both entries, not only the first
    assert all(
        "needs a Google Cloud project: set project_id in the entry, or GCP_PROJECT_ID" in p
        for p in caught.value.problems
    )


def test_vertex_entries_take_no_api_key() -> None:
    with pytest.raises(EndpointFileError, match="authenticates with Google Application Default Credentials"):
        ModelRegistry.from_mapping({"g": {"api_type": "vertex", "project_id": PROJECT, "api_key": "k"}})
