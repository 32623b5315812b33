"""``arena serve``: run the web app.

The runtime (:func:`arena_app.services.runtime.serving`) migrates the SQLite default automatically (a
non-SQLite database that is behind is refused: run ``arena db upgrade``), loads the endpoint registry
(entries whose key env var is missing are skipped with a warning), optionally starts the offline demo
workers (``--demo``) and a periodic leaderboard recompute (``--recompute-every``); this module configures
logging, the proxy trust and signals, and serves Gradio with a bounded queue.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

from arena_app.cli.settings_flags import add_command
from arena_app.settings import ArenaSettings

if TYPE_CHECKING:
    from arena_app.cli.settings_flags import Subcommands


# The web app uses every setting; a setting added to ArenaSettings must be added here or to another command
# (tests/cli/test_settings_flags.py checks that each is used by some command).
SETTINGS = (
    "database_url",
    "endpoints_file",
    "host",
    "port",
    "client_id_salt",
    "trusted_proxies",
    "max_turns",
    "resume_ttl_s",
    "max_input_chars",
    "max_new_tokens",
    "identity_words",
    "min_votes",
    "daily_vote_cap",
    "excluded_models",
    "recompute_every",
    "style_recompute_every",
    "sampling",
    "sampling_floor",
    "rate_limit_battles",
    "rate_limit_votes",
    "concurrency_limit",
    "demo",
    "cache_dir",
    "secrets_dir",
    "share_links",
    "example_prompts",
    "terms_of_use",
)


def register(sub: Subcommands) -> None:
    parser = add_command(
        sub,
        "serve",
        settings=SETTINGS,
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
    # Gradio's queue rebuilds a pandas summary of its last (10,000) events after EVERY event for its
    # /monitoring page: ~3-10 ms per event, the largest per-event cost after the UI updates (bench/README.md).
    # Refresh it every 1,000 events over the last 1,000 instead.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    configure_logging()
    # uvicorn (under Gradio) rewrites the client address from X-Forwarded-For for peers in
    # FORWARDED_ALLOW_IPS, by default loopback. Make --trusted-proxies the only source of that trust.
    if os.environ.get("FORWARDED_ALLOW_IPS") not in (None, ",".join(settings.trusted_proxies)):
        _say("note: FORWARDED_ALLOW_IPS is replaced by --trusted-proxies / ARENA_TRUSTED_PROXIES")
    os.environ["FORWARDED_ALLOW_IPS"] = ",".join(settings.trusted_proxies)

    from arena_app.services.runtime import serving

    # the demo workers (if any) load while Gradio is imported and the app is built
    with serving(settings, say=_say, progress=print) as runtime:
        from arena_app.ui.app import build_app, launch_kwargs

        app = build_app(runtime.services)
        app.queue(default_concurrency_limit=settings.concurrency_limit)
        runtime.wait_ready()
        _stop_on_sigterm()
        app.launch(
            server_name=settings.host,
            server_port=settings.port,
            max_threads=max(40, settings.concurrency_limit + 16),
            show_error=False,
            **launch_kwargs(app, settings),
        )
    return 0
