"""The configured models for operators: ``arena models`` (what the endpoint file declares, where each key
comes from, health; with ``--demo`` also the demo models and the state of the demo worker of a running
``arena serve --demo``) and ``arena models check`` (a tiny request to every endpoint).

Keys are never part of what these return: only where a key comes from and whether it is set.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from arena_app.demo_supervisor import WorkerStatus
from arena_app.providers.model_info import EndpointCheck, ModelInfo
from arena_app.providers.registry import ModelRegistry
from arena_app.services.errors import NotFound
from arena_app.services.runtime import endpoint_file_errors, endpoints_path
from arena_app.settings import ArenaSettings

__all__ = ["CHECK_PROMPT", "ModelListing", "WorkerStatus", "check_models", "list_models"]

CHECK_PROMPT = "Reply with the word OK."


@dataclass(frozen=True)
class ModelListing:
    """One configured model as ``arena models`` shows it."""

    info: ModelInfo
    key_source: str  # "env OPENAI_API_KEY", "inline", "env X (implicit)", "none"
    key_configured: bool
    healthy: bool
    #: a demo model (``--demo``): the state of the worker of a running ``arena serve --demo``, None when
    #: none is running
    worker: WorkerStatus | None = None
    demo: bool = False


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


def _listings(
    registry: ModelRegistry, worker: WorkerStatus | None = None, demo: bool = False
) -> list[ModelListing]:
    try:
        health = {h.name: h for h in registry.health_report()}
        return [
            ModelListing(
                info,
                health[info.name].key_source,
                health[info.name].key_configured,
                health[info.name].healthy and (not demo or (worker is not None and worker.up)),
                worker,
                demo,
            )
            for info in registry.models()
        ]
    finally:
        registry.close()


def list_models(settings: ArenaSettings) -> list[ModelListing]:
    """The endpoint file's models, in file order; with ``settings.demo`` the demo models first (an
    endpoint file entry of the same name wins, as in ``arena serve``)."""
    listing = []
    if settings.demo:
        listing = _demo_listings(settings)
    if settings.demo and endpoints_path(settings) is None:
        return listing
    files = _listings(_registry(settings))
    names = {m.info.name for m in files}
    return [m for m in listing if m.info.name not in names] + files


def _demo_listings(settings: ArenaSettings) -> list[ModelListing]:
    """The demo entries, on the port of the worker a running ``arena serve --demo`` supervises (the first
    one found under ``settings.cache_dir``), with that worker's state."""
    from arena_app.demo import demo_endpoints
    from arena_app.demo_supervisor import read_statuses

    statuses = read_statuses(Path(settings.cache_dir))
    worker = statuses[0] if statuses else None
    entries = demo_endpoints(worker.port if worker is not None else 0)
    return _listings(ModelRegistry.from_mapping(entries), worker, demo=True)


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
