"""``arena serve``: run the web app.

Migrates the SQLite default automatically (a non-SQLite database that is behind is refused: run
``arena db upgrade``), loads the endpoint registry (entries whose key env var is missing are skipped with a
warning), optionally starts the offline demo workers (``--demo``) and a periodic leaderboard recompute
(``--recompute-every``), then serves Gradio with a bounded queue.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arena_app.settings import ArenaSettings

if TYPE_CHECKING:  # the providers import the SDKs: load them only when serving
    from arena_app.providers.endpoints import EndpointConfig
    from arena_app.providers.registry import ModelRegistry

log = logging.getLogger("arena.serve")


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "serve",
        parents=parents,
        help="run the web app (battle, side-by-side, direct chat, leaderboard, about)",
        description="Serve the arena web app. Every setting is also an ARENA_* environment variable.",
    )
    parser.add_argument(
        "--endpoints",
        dest="setting_endpoints_file",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="alias of --endpoints-file: the api_endpoints.json to serve",
    )
    parser.set_defaults(func=run)


def _say(message: str) -> None:
    print(f"arena serve: {message}", file=sys.stderr, flush=True)


def prepare_database(url: str) -> None:
    """Auto-migrate SQLite; refuse a behind non-SQLite database with the command that fixes it."""
    from arena_app.storage.db import parse_url
    from arena_app.storage.migrate import current, ensure_schema, head_revision

    if parse_url(url).get_backend_name() == "sqlite":
        ensure_schema(url)
        return
    rev, head = current(url), head_revision()
    if rev != head:
        raise RuntimeError(
            f"the database schema is at revision {rev or 'none'} but this version needs {head}; "
            "run `arena db upgrade` (with the same --database-url) first"
        )


def endpoint_config(settings: ArenaSettings) -> EndpointConfig | None:
    """The endpoint file (``--endpoints``, else ./api_endpoints.json if present), read and validated by the
    providers' loader (duplicate keys, line and column of bad JSON, errors named after the file)."""
    from arena_app.providers.endpoints import load_endpoint_file

    path = settings.endpoints_file
    if path is None and Path("api_endpoints.json").exists():
        path = Path("api_endpoints.json")
    return None if path is None else load_endpoint_file(path)


def build_registry(
    settings: ArenaSettings, file_config: EndpointConfig | None, demo: Mapping[str, Any] | None = None
) -> ModelRegistry:
    """The demo entries (if any) and the file's entries (which win on a name clash); entries whose key
    environment variable is unset are left out with a warning."""
    from arena_app.providers.endpoints import EndpointConfig, parse_endpoints
    from arena_app.providers.registry import ModelRegistry

    entries = dict(parse_endpoints(dict(demo), "demo models").entries) if demo else {}
    if file_config is not None:
        entries.update(file_config.entries)
    if not entries:
        return ModelRegistry.empty()
    source = file_config.source if file_config is not None else "demo models"
    registry = ModelRegistry(
        EndpointConfig(entries, source), missing_keys="skip", default_max_new_tokens=settings.max_new_tokens
    )
    for reason in registry.skipped.values():
        _say(f"warning: skipping model: {reason}")
    return registry


def _recompute_loop(services: Any, every: float, stop: threading.Event) -> None:
    """Recompute every category every ``every`` seconds, starting now.

    Style control is tried first; if that fit fails (e.g. every answer has the same style, which makes
    the style fit singular) the plain ratings are still refreshed, so the board never goes stale.
    """
    from dataclasses import replace

    from arena_app.services.leaderboard_service import ALL_CATEGORIES, RecomputeParams, recompute
    from leaderboard.compute import ComputeParams

    styled = RecomputeParams(
        categories=(ALL_CATEGORIES,),
        compute=ComputeParams(style_control=True, min_votes=services.settings.min_votes),
    )
    plain = replace(styled, compute=replace(styled.compute, style_control=False))
    while not stop.is_set():
        for params in (styled, plain):
            try:
                outcomes = recompute(services.session_factory, params)
            except Exception:
                log.exception(
                    "periodic leaderboard recompute (style control %s) failed",
                    "on" if params.compute.style_control else "off",
                )
                continue
            summary = ", ".join(f"{o.category}={o.vote_count}" for o in outcomes)
            log.info("leaderboard recomputed: %s", summary)
            break
        stop.wait(every)


def configure_logging() -> None:
    """INFO for the app; the HTTP clients and Alembic only from WARNING on."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # httpx2/httpcore2 (what the SDKs use) log every request URL at INFO, credentials in an api_base included
    for noisy in ("httpx", "httpcore", "httpx2", "httpcore2", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _stop_on_sigterm() -> None:
    """Treat SIGTERM (docker stop, systemd) like Ctrl+C, so the demo workers and the DB pool are closed."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


def run(args: argparse.Namespace, settings: ArenaSettings) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    configure_logging()
    prepare_database(settings.database_url)
    # uvicorn (under Gradio) rewrites the client address from X-Forwarded-For for peers in
    # FORWARDED_ALLOW_IPS, by default loopback. Make --trusted-proxies the only source of that trust.
    if os.environ.get("FORWARDED_ALLOW_IPS") not in (None, ",".join(settings.trusted_proxies)):
        _say("note: FORWARDED_ALLOW_IPS is replaced by --trusted-proxies / ARENA_TRUSTED_PROXIES")
    os.environ["FORWARDED_ALLOW_IPS"] = ",".join(settings.trusted_proxies)

    file_config = endpoint_config(settings)  # a bad file is refused before anything starts
    stop = threading.Event()
    # Everything started from here on is closed in reverse order however run() ends (a failure while the
    # app is built included), so no demo worker or DB pool outlives it.
    with ExitStack() as cleanup:
        if settings.demo:
            from arena_app.demo import start_demo

            _say("starting the offline demo models (the first start converts the model and can take minutes)")
            demo_handle = start_demo(settings, progress=print, wait=False)  # loads while the app is built
            cleanup.callback(demo_handle.close)
        else:
            demo_handle = None

        from arena_app.services.app_services import create_services
        from arena_app.ui.app import LAUNCH_KWARGS, build_app

        registry = build_registry(settings, file_config, demo_handle.endpoints if demo_handle else None)
        cleanup.callback(registry.close)
        if not registry.models():
            _say("warning: no models configured; pass --endpoints FILE or --demo (the tabs will say so)")
        services = create_services(settings, registry)
        cleanup.callback(services.close)
        cleanup.callback(stop.set)  # stop the recompute loop before the services close
        if settings.recompute_every > 0:
            threading.Thread(
                target=_recompute_loop, args=(services, settings.recompute_every, stop), daemon=True
            ).start()
        app = build_app(services)
        app.queue(default_concurrency_limit=settings.concurrency_limit)
        if demo_handle is not None:
            demo_handle.wait_ready()
        _stop_on_sigterm()
        app.launch(
            server_name=settings.host,
            server_port=settings.port,
            max_threads=max(40, settings.concurrency_limit + 16),
            show_error=False,
            **LAUNCH_KWARGS,
        )
    return 0
