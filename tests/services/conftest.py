"""Fixtures for service tests: a real SQLite database, the real registry and openai SDK talking to the
loopback fake OpenAI server, with replies scripted per upstream model name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from arena_app.providers.registry import ModelRegistry
from arena_app.services.app_services import AppServices, create_services
from arena_app.services.client_id import ClientIdentity
from arena_app.settings import load_settings
from tests.fakes.openai_server import OpenAIFakeServer, RecordedRequest, Reply


class Script:
    """Per-model replies: queued ones first, then the model's default."""

    def __init__(self) -> None:
        self.queued: dict[str, list[Reply]] = {}
        self.default: dict[str, Reply] = {}

    def set(self, model: str, reply: Reply) -> None:
        self.default[model] = reply

    def push(self, model: str, *replies: Reply) -> None:
        self.queued.setdefault(model, []).extend(replies)

    def __call__(self, req: RecordedRequest) -> Reply:
        body = req.body if isinstance(req.body, dict) else {}
        model = str(body.get("model", ""))
        queue = self.queued.get(model)
        if queue:
            return queue.pop(0)
        return self.default.get(model, Reply.text("Here is my answer."))


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def fake_openai(script: Script) -> Iterator[OpenAIFakeServer]:
    with OpenAIFakeServer(script) as srv:
        yield srv


def endpoints_for(base_url: str, **extra: dict[str, Any]) -> dict[str, Any]:
    """Two battle models upstream-named ``alpha-up``/``beta-up`` (plus ``extra`` entries)."""
    common = {"api_type": "openai", "api_base": base_url, "api_key": "sk-test-secret", "retries": 0}
    mapping: dict[str, Any] = {
        "alpha": {**common, "model_name": "alpha-up", "organization": "Alphacorp"},
        "beta": {**common, "model_name": "beta-up", "organization": "Betasoft"},
    }
    for name, entry in extra.items():
        mapping[name] = {**common, **entry}
    return mapping


@pytest.fixture
def make_services(
    sqlite_url: str, fake_openai: OpenAIFakeServer, tmp_path: Path
) -> Iterator[Callable[..., AppServices]]:
    made: list[AppServices] = []

    def make(endpoints: dict[str, Any] | None = None, seed: int = 0, **overrides: Any) -> AppServices:
        overrides.setdefault("client_id_salt", "test-salt")
        overrides.setdefault("database_url", sqlite_url)
        overrides.setdefault("secrets_dir", tmp_path / "secrets")  # the share-link key; never ~/.cache
        overrides.setdefault("secrets_dir", tmp_path / "secrets")
        settings = load_settings(**overrides)
        registry = ModelRegistry.from_mapping(  # as `arena serve` builds it
            endpoints or endpoints_for(fake_openai.base_url), default_max_new_tokens=settings.max_new_tokens
        )
        services = create_services(settings, registry, rng=np.random.default_rng(seed))
        made.append(services)
        return services

    yield make
    for services in made:
        services.close()


@pytest.fixture
def services(make_services: Callable[..., AppServices]) -> AppServices:
    return make_services()


@pytest.fixture
def client() -> ClientIdentity:
    return ClientIdentity(session_id="session-1", client_hash="f" * 64)
