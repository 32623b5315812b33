"""The configured models for operators: ``arena models`` (what the endpoint file declares, where each key
comes from, health) and ``arena models check`` (a tiny request to every endpoint).

Keys are never part of what these return: only where a key comes from and whether it is set.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from arena_app.providers.model_info import EndpointCheck, ModelInfo
from arena_app.providers.registry import ModelRegistry
from arena_app.services.errors import NotFound
from arena_app.services.runtime import endpoint_file_errors, endpoints_path
from arena_app.settings import ArenaSettings

CHECK_PROMPT = "Reply with the word OK."


@dataclass(frozen=True)
class ModelListing:
    """One configured model as ``arena models`` shows it."""

    info: ModelInfo
    key_source: str  # "env OPENAI_API_KEY", "inline", "env X (implicit)", "none"
    key_configured: bool
    healthy: bool


def _endpoint_file(settings: ArenaSettings) -> Path:
    path = endpoints_path(settings)
    if path is None:
        raise NotFound(
            "no endpoint file: pass --endpoints-file PATH or create ./api_endpoints.json "
            "(start from api_endpoints.example.json)"
        )
    return path


def _registry(settings: ArenaSettings) -> ModelRegistry:
    """Every entry of the endpoint file, those whose key variable is unset included (shown as missing)."""
    with endpoint_file_errors():
        return ModelRegistry.from_file(_endpoint_file(settings), missing_keys="keep")


def list_models(settings: ArenaSettings) -> list[ModelListing]:
    """The endpoint file's models, in file order."""
    registry = _registry(settings)
    try:
        health = {h.name: h for h in registry.health_report()}
        return [
            ModelListing(
                info,
                health[info.name].key_source,
                health[info.name].key_configured,
                health[info.name].healthy,
            )
            for info in registry.models()
        ]
    finally:
        registry.close()


@contextmanager
def _quiet_provider_log() -> Iterator[None]:
    """The check reports every failure; the providers' operator log lines would only repeat them."""
    provider_log = logging.getLogger("arena_app.providers")
    level = provider_log.level
    provider_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        provider_log.setLevel(level)


def check_models(
    settings: ArenaSettings, names: Sequence[str] = (), *, timeout_s: float = 30.0
) -> list[EndpointCheck]:
    """Send :data:`CHECK_PROMPT` to every endpoint of each named model (default: all), up to 8 at a time.

    An unknown name is :class:`NotFound`, before any request is sent.
    """
    from arena_app.providers.errors import UnknownModelError

    with _quiet_provider_log():
        registry = _registry(settings)
        try:
            names = list(names) or [m.name for m in registry.models()]
            for name in names:
                try:
                    registry.get(name)
                except UnknownModelError as exc:
                    raise NotFound(str(exc)) from exc
            with ThreadPoolExecutor(max_workers=max(1, min(8, len(names)))) as pool:
                batches = pool.map(
                    lambda n: registry.check(n, timeout_s=timeout_s, prompt=CHECK_PROMPT), names
                )
                return [r for batch in batches for r in batch]
        finally:
            registry.close()
