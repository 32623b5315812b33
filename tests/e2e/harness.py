"""The real arena web app on loopback, for end-to-end (gradio_client) and browser (Playwright) tests.

``running_app`` (session scope) starts the loopback fake OpenAI and Anthropic servers, builds the real
registry, services and Gradio app on a migrated SQLite file, and launches it in-process on a free port.
Every upstream reply is decided by :class:`Upstream` from the upstream model name; a test changes what one
model answers with ``app.upstream.override(model, reply)`` (a context manager).

Models (display name -> upstream name, the word its default answer contains):

- battle only (``anony_only``, so never listed in a dropdown): ``Zephyrine-7B`` (openai,
  ``zephyrine-upstream``, "kiwi") and ``Quillion-Large`` (anthropic, ``quillion-upstream``, "mango");
- named/direct chat only (``battle: false``): ``Papaya-Chat`` (openai, "lemon") and ``Guava-Chat``
  (anthropic, "cherry").
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from tests.fakes.anthropic_server import AnthropicFakeServer
from tests.fakes.openai_server import OpenAIFakeServer, RecordedRequest, Reply

OPENAI_KEY = "sk-e2e-openai-secret-4f1d9a"
ANTHROPIC_KEY = "sk-ant-e2e-secret-77c2be"

BATTLE_MODELS = {"Zephyrine-7B": "zephyrine-upstream", "Quillion-Large": "quillion-upstream"}
CHAT_MODELS = {"Papaya-Chat": "papaya-upstream", "Guava-Chat": "guava-upstream"}
#: the word each model's default answer contains (lets a test tell which side got which model)
ANSWER_WORD = {
    "zephyrine-upstream": "kiwi",
    "quillion-upstream": "mango",
    "papaya-upstream": "lemon",
    "guava-upstream": "cherry",
}
#: strings that must never reach the browser before a battle's vote
SECRETS_BEFORE_REVEAL = (
    "zephyrine",
    "quillion",
    "zephyr labs",
    "quillco",
    OPENAI_KEY,
    ANTHROPIC_KEY,
)


def default_answer(upstream: str) -> str:
    word = ANSWER_WORD.get(upstream, "plain")
    return f"Here is a **streamed** answer about the {word} in several small pieces."


class Upstream:
    """Reply source for both fake servers: per-model overrides, else the model's default answer."""

    def __init__(self, chunk_delay: float = 0.05) -> None:
        self.chunk_delay = chunk_delay
        self._overrides: dict[str, Callable[[], Reply]] = {}
        self._lock = threading.Lock()

    def __call__(self, req: RecordedRequest) -> Reply:
        body = req.body if isinstance(req.body, dict) else {}
        model = str(body.get("model", ""))
        with self._lock:
            make = self._overrides.get(model)
        if make is not None:
            return make()
        return Reply.text(default_answer(model), chunk_delay=self.chunk_delay)

    @contextlib.contextmanager
    def override(self, upstream_model: str, reply: Reply | Callable[[], Reply]) -> Iterator[None]:
        """While active, ``upstream_model`` answers ``reply`` (a Reply, or a factory called per request)."""
        make = reply if callable(reply) else (lambda: reply)
        with self._lock:
            self._overrides[upstream_model] = make
        try:
            yield
        finally:
            with self._lock:
                self._overrides.pop(upstream_model, None)


@dataclass
class RunningApp:
    url: str  # ends with "/"
    demo: Any  # gr.Blocks
    services: Any  # AppServices
    upstream: Upstream
    openai: OpenAIFakeServer
    anthropic: AnthropicFakeServer
    database_url: str
    hidden: tuple[str, ...] = field(default=())

    def rows(self, sql: str, **params: Any) -> list[Any]:
        """Run a read query on the app's database."""
        with self.services.session_factory() as s:
            return list(s.execute(text(sql), params).mappings())

    def battle_for_message(self, marker: str) -> dict[str, Any]:
        """The battle whose conversation A contains a user message containing ``marker``."""
        rows = self.rows(
            "SELECT b.* FROM battles b JOIN messages m ON m.conversation_id = b.conversation_a_id "
            "WHERE m.role = 'user' AND m.content LIKE :pat",
            pat=f"%{marker}%",
        )
        assert len(rows) == 1, f"expected one battle for {marker!r}, found {len(rows)}"
        return dict(rows[0])

    def vote_rows(self, battle_id: int) -> list[dict[str, Any]]:
        return [dict(r) for r in self.rows("SELECT * FROM votes WHERE battle_id = :b", b=battle_id)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def endpoint_mapping(openai_base: str, anthropic_base: str) -> dict[str, dict[str, Any]]:
    oa = {"api_type": "openai", "api_base": openai_base, "api_key": OPENAI_KEY, "retries": 0}
    an = {"api_type": "anthropic_message", "api_base": anthropic_base, "api_key": ANTHROPIC_KEY, "retries": 0}
    return {
        "Zephyrine-7B": {
            **oa,
            "model_name": "zephyrine-upstream",
            "anony_only": True,
            "organization": "Zephyr Labs",
            "license": "Apache-2.0",
            "link": "https://example.org/zephyrine",
        },
        "Quillion-Large": {
            **an,
            "model_name": "quillion-upstream",
            "anony_only": True,
            "organization": "Quillco",
            "license": "Proprietary",
        },
        "Papaya-Chat": {
            **oa,
            "model_name": "papaya-upstream",
            "battle": False,
            "organization": "Fruitful",
            "description": "A greedy papaya.",
            "recommended_config": {"temperature": 0.0, "top_p": 1.0, "max_new_tokens": 300},
        },
        "Guava-Chat": {
            **an,
            "model_name": "guava-upstream",
            "battle": False,
            "organization": "Fruitful",
            "recommended_config": {"temperature": 0.9, "top_p": 0.8, "max_new_tokens": 200},
        },
    }


@contextlib.contextmanager
def launch_app(
    tmp_dir: Path,
    mapping: Callable[[str, str], dict[str, dict[str, Any]]] = endpoint_mapping,
    database_url: str | None = None,
    **settings: Any,
) -> Iterator[RunningApp]:
    """Everything real except the vendors: fake servers on loopback, real SDKs, real DB, real Gradio.

    ``mapping(openai_base_url, anthropic_base_url)`` gives the endpoint entries (default: the four fakes);
    ``database_url``: an existing database (default: a new SQLite file); ``settings``: ArenaSettings
    overrides. The rate limits are off unless given: every test of the shared app comes from 127.0.0.1.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from arena_app.providers.registry import ModelRegistry
    from arena_app.services.app_services import create_services
    from arena_app.settings import load_settings
    from arena_app.storage.migrate import upgrade
    from arena_app.ui.app import build_app, launch_kwargs

    database_url = database_url or f"sqlite:///{tmp_dir / 'arena.db'}"
    upgrade(database_url)
    settings.setdefault("rate_limit_battles", "off")
    settings.setdefault("rate_limit_votes", "off")
    upstream = Upstream()
    with OpenAIFakeServer(upstream) as oa, AnthropicFakeServer(upstream) as an:
        # A high failure threshold: the error-path tests must not take a model out of battle sampling.
        registry = ModelRegistry.from_mapping(
            mapping(oa.base_url, an.base_url), failure_threshold=10_000, cooldown_s=0.01
        )
        arena_settings = load_settings(database_url=database_url, cache_dir=tmp_dir / "cache", **settings)
        services = create_services(arena_settings, registry, rng=np.random.default_rng(1234))
        demo = build_app(services)
        demo.queue(default_concurrency_limit=16)
        port = free_port()
        demo.launch(
            prevent_thread_lock=True,
            server_name="127.0.0.1",
            server_port=port,
            quiet=True,
            **launch_kwargs(demo, arena_settings),
        )
        hidden = (*SECRETS_BEFORE_REVEAL, *BATTLE_MODELS.values(), f":{oa.port}", f":{an.port}")
        app = RunningApp(
            url=f"http://127.0.0.1:{port}/",
            demo=demo,
            services=services,
            upstream=upstream,
            openai=oa,
            anthropic=an,
            database_url=database_url,
            hidden=tuple(h.lower() for h in hidden),
        )
        try:
            yield app
        finally:
            demo.close()
            services.close()


@pytest.fixture(scope="session")
def running_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    with launch_app(tmp_path_factory.mktemp("arena-app")) as app:
        yield app
