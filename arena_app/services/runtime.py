"""What ``arena serve`` runs besides the web page: the database, the model registry, the offline demo
workers and the periodic leaderboard refresh, started in order and closed in reverse however serving ends.

The SQLite default is migrated automatically; a non-SQLite database that is behind is refused with the
command that fixes it. The registry merges the demo entries (``--demo``) with the endpoint file's (which
win on a name clash); entries whose key environment variable is unset are left out with a warning. The
web app itself (Gradio) is built by the caller from :attr:`ServeRuntime.services`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from arena_app.services.app_services import AppServices, create_services
from arena_app.services.errors import Refused, Unavailable
from arena_app.services.leaderboard_refresh import LeaderboardRefresher
from arena_app.services.leaderboard_votes import VoteRules
from arena_app.services.operator import operator_errors
from arena_app.settings import ArenaSettings
from arena_app.storage.db import parse_url

if TYPE_CHECKING:  # the providers import the SDKs, the demo subprocess machinery: load them when serving
    from arena_app.demo import DemoHandle
    from arena_app.demo_supervisor import WorkerStatus
    from arena_app.providers.endpoints import EndpointConfig
    from arena_app.providers.registry import ModelRegistry

DEFAULT_ENDPOINTS_FILE = Path("api_endpoints.json")

#: one line for the operator (a warning, a progress note)
Say = Callable[[str], None]


def prepare_database(database_url: str) -> None:
    """Auto-migrate SQLite; refuse a behind non-SQLite database with the command that fixes it."""
    from arena_app.storage.migrate import current, ensure_schema, head_revision

    with operator_errors():
        if parse_url(database_url).get_backend_name() == "sqlite":
            ensure_schema(database_url)
            return
        rev, head = current(database_url), head_revision()
    if rev != head:
        raise Refused(
            f"the database schema is at revision {rev or 'none'} but this version needs {head}; "
            "run `arena db upgrade` (with the same --database-url) first"
        )


def endpoints_path(settings: ArenaSettings) -> Path | None:
    """``--endpoints-file``, else ./api_endpoints.json if it exists, else None."""
    if settings.endpoints_file is not None:
        return settings.endpoints_file
    return DEFAULT_ENDPOINTS_FILE if DEFAULT_ENDPOINTS_FILE.exists() else None


@contextmanager
def endpoint_file_errors() -> Iterator[None]:
    """A bad endpoint file (:class:`~arena_app.providers.errors.EndpointFileError`) as :class:`Refused`,
    with the loader's message (the file, the line and column of bad JSON, duplicate keys...)."""
    from arena_app.providers.errors import EndpointFileError

    try:
        yield
    except EndpointFileError as exc:
        raise Refused(str(exc)) from exc


def endpoint_config(settings: ArenaSettings) -> EndpointConfig | None:
    """The endpoint file (see :func:`endpoints_path`) read and validated, or None when there is none."""
    from arena_app.providers.endpoints import load_endpoint_file

    path = endpoints_path(settings)
    if path is None:
        return None
    with endpoint_file_errors():
        return load_endpoint_file(path)


def build_registry(
    settings: ArenaSettings,
    file_config: EndpointConfig | None,
    demo: Mapping[str, Mapping[str, object]] | None = None,
    *,
    say: Say,
) -> ModelRegistry:
    """The demo entries (if any) and the file's entries (which win on a name clash); entries whose key
    environment variable is unset are left out, each with a warning through ``say``."""
    from arena_app.providers.endpoints import EndpointConfig, parse_endpoints
    from arena_app.providers.registry import ModelRegistry

    with endpoint_file_errors():
        entries = dict(parse_endpoints(dict(demo), "demo models").entries) if demo else {}
    if file_config is not None:
        entries.update(file_config.entries)
    if not entries:
        return ModelRegistry.empty()
    source = file_config.source if file_config is not None else "demo models"
    with endpoint_file_errors():  # problems found while building the endpoints (e.g. no Vertex project)
        registry = ModelRegistry(
            EndpointConfig(entries, source),
            missing_keys="skip",
            default_max_new_tokens=settings.max_new_tokens,
        )
    for reason in registry.skipped.values():
        say(f"warning: skipping model: {reason}")
    return registry


@contextmanager
def demo_errors() -> Iterator[None]:
    """The demo model could not be prepared or started: :class:`Unavailable`, saying why and the fix."""
    from arena_app.demo_convert import DemoError

    try:
        yield
    except DemoError as exc:
        raise Unavailable(str(exc)) from exc


def demo_availability(registry: ModelRegistry, names: list[str], say: Say) -> Callable[[WorkerStatus], None]:
    """What the demo worker's supervisor reports becomes the availability of the demo models ``names``
    in the registry: while the worker is not up they are down, so no battle is sampled onto them."""

    def on_change(status: WorkerStatus) -> None:
        reason = None if status.up else f"the local demo worker is {status.state} ({status.detail})"
        registry.set_down(names, reason)
        say(f"demo worker {status.state} (restarts: {status.restarts})")

    return on_change


@dataclass(frozen=True)
class ServeRuntime:
    services: AppServices
    demo: DemoHandle | None

    def wait_ready(self) -> None:
        """Block until the demo workers (if any) answer; they load while the web app is built."""
        if self.demo is not None:
            with demo_errors():
                self.demo.wait_ready()


@contextmanager
def serving(settings: ArenaSettings, *, say: Say, progress: Say) -> Iterator[ServeRuntime]:
    """Everything ``arena serve`` needs, closed in reverse order when the block ends (by an error too, so
    no demo worker or database pool outlives it). ``progress`` gets the demo model's preparation steps."""
    prepare_database(settings.database_url)
    file_config = endpoint_config(settings)  # a bad file is refused before anything starts
    with ExitStack() as cleanup:
        demo = None
        if settings.demo:
            from arena_app.demo import start_demo

            say("starting the offline demo models (the first start converts the model and can take minutes)")
            with demo_errors():
                demo = start_demo(settings, progress=progress, wait=False)  # loads while the app is built
            cleanup.callback(demo.close)
        registry = build_registry(settings, file_config, demo.endpoints if demo else None, say=say)
        cleanup.callback(registry.close)
        if demo is not None:  # an endpoint file's entry that replaced a demo name is not the worker's
            overridden = file_config.entries if file_config is not None else {}
            demo_names = [n for n in demo.endpoints if n not in overridden and n not in registry.skipped]
            demo.report_to(demo_availability(registry, demo_names, say))
        if not registry.models():
            say("warning: no models configured; pass --endpoints FILE or --demo (the tabs will say so)")
        services = create_services(settings, registry)
        cleanup.callback(services.close)
        for note in services.salt_notes:
            say(note)
        if settings.recompute_every > 0:
            refresher = LeaderboardRefresher(
                services.session_factory,
                min_votes=settings.min_votes,
                style_every=settings.style_recompute_every,
                rules=VoteRules.of(settings),
            )
            # registered last, so it runs first: the refresh stops before the services close
            cleanup.callback(refresher.start(settings.recompute_every).set)
        yield ServeRuntime(services, demo)
