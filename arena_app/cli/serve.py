"""``arena serve``: run the web app.

Migrates the SQLite default automatically (a non-SQLite database that is behind is refused: run
``arena db upgrade``), loads the endpoint registry (entries whose key env var is missing are skipped with a
warning), optionally starts the offline demo workers (``--demo``) and a periodic leaderboard recompute
(``--recompute-every``), then serves Gradio with a bounded queue.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from arena_app.settings import ArenaSettings

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


def endpoint_mapping(settings: ArenaSettings) -> dict[str, Any]:
    """The endpoint file as a mapping, without entries whose key environment variable is unset."""
    path = settings.endpoints_file
    if path is None and Path("api_endpoints.json").exists():
        path = Path("api_endpoints.json")
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RuntimeError(f"endpoint file {path} does not exist (check --endpoints)") from exc
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"endpoint file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise RuntimeError(f"endpoint file {path} must hold a JSON object keyed by model name")
    kept: dict[str, Any] = {}
    for name, entry in data.items():
        env = entry.get("api_key_env") if isinstance(entry, dict) else None
        if env and not os.environ.get(str(env)):
            _say(f"warning: skipping model {name!r}: environment variable {env} (its API key) is not set")
            continue
        kept[name] = entry
    return kept


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

    mapping = endpoint_mapping(settings)
    stop = threading.Event()
    # Everything started from here on is closed in reverse order however run() ends (a failure while the
    # app is built included), so no demo worker or DB pool outlives it.
    with ExitStack() as cleanup:
        if settings.demo:
            from arena_app.demo import start_demo

            _say("starting the offline demo models (the first start converts the model and can take minutes)")
            demo_handle = start_demo(settings, progress=print, wait=False)  # loads while the app is built
            cleanup.callback(demo_handle.close)
            mapping = {**dict(demo_handle.endpoints), **mapping}
        else:
            demo_handle = None
        if not mapping:
            _say("warning: no models configured; pass --endpoints FILE or --demo (the tabs will say so)")

        from arena_app.providers.registry import ModelRegistry
        from arena_app.services.app_services import create_services
        from arena_app.ui.app import LAUNCH_KWARGS, build_app

        registry = (
            ModelRegistry.from_mapping(mapping, default_max_new_tokens=settings.max_new_tokens)
            if mapping
            else ModelRegistry.empty()
        )
        close_registry = getattr(registry, "close", None)
        if callable(close_registry):
            cleanup.callback(close_registry)
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
