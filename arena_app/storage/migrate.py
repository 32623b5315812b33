"""Run the Alembic migrations from Python (used by ``arena db ...``, ``arena serve`` and the tests).

The migrations live at the top of the repository (``migrations/`` + ``alembic.ini``); the project is
installed editable, so they are found next to the ``arena_app`` package.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from arena_app.storage.db import database_errors, make_engine, safe_url
from arena_app.storage.errors import ConfigurationError, StorageError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"


def _installed_alembic_ini() -> list[Path]:
    """Where a non-editable install puts the migrations (pyproject's data-files): the environment's data
    directory, or the user scheme's for ``pip install --user``."""
    schemes = [sysconfig.get_default_scheme(), sysconfig.get_preferred_scheme("user")]
    data_dirs = [Path(sysconfig.get_path("data", scheme)) for scheme in schemes]
    return [data / "share" / "llm-arena" / "alembic.ini" for data in data_dirs]


def find_alembic_ini() -> Path:
    """alembic.ini of the checkout (editable install, running from a clone), else of the installation."""
    for candidate in (ALEMBIC_INI, *_installed_alembic_ini()):
        if candidate.is_file():
            return candidate
    raise ConfigurationError(
        f"migrations not found: neither {ALEMBIC_INI} nor an installed copy under "
        f"{_installed_alembic_ini()[0].parent} exists (reinstall the project: pip install .)"
    )


class MigrationError(StorageError):
    """A migration command failed (unknown revision, schema not managed by Alembic, ...)."""


def alembic_config(url: str) -> Config:
    """An Alembic config for ``url`` that leaves the application's logging alone."""
    config = Config(str(find_alembic_ini()))
    config.attributes["database_url"] = url
    config.attributes["configure_logging"] = False
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def _run(action: str, url: str, rev: str) -> None:
    config = alembic_config(url)
    make_engine(url).dispose()  # validate the URL early: ConfigurationError with a clear message
    with database_errors(url):
        try:
            if action == "upgrade":
                command.upgrade(config, rev)
            else:
                command.downgrade(config, rev)
        except CommandError as exc:
            raise MigrationError(f"{action} to {rev!r} failed: {exc}") from exc


def upgrade(url: str, rev: str = "head") -> None:
    """Migrate the database at ``url`` up to ``rev`` (default: the newest revision)."""
    _run("upgrade", url, rev)


def downgrade(url: str, rev: str) -> None:
    """Migrate down to ``rev`` (``base`` removes every table)."""
    _run("downgrade", url, rev)


def current(url: str) -> str | None:
    """The revision the database is at, or None for a database Alembic has never touched."""
    engine = make_engine(url)
    try:
        with database_errors(url), engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def missing_sqlite_file(url: str) -> str | None:
    """The path of a SQLite database file that does not exist yet, else None (other databases, in-memory).

    Connecting to such a URL creates an empty file, so commands that only read check this first: a mistyped
    path must not leave a stray database behind.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return None  # not a URL at all: connecting reports that with the usual message
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = str(parsed.database)
    return None if Path(path).is_file() else path


def require_current_schema(url: str) -> None:
    """Refuse a database that read-only commands (export, leaderboard) cannot use: a SQLite file that does
    not exist (connecting would create an empty one at a mistyped path), no schema, or a schema behind head.
    """
    missing = missing_sqlite_file(url)
    if missing is not None:
        raise MigrationError(f"database file {missing} does not exist (check --database-url)")
    rev = current(url)
    if rev is None:
        raise MigrationError(f"database {safe_url(url)} has no arena schema; run `arena db upgrade`")
    if rev != head_revision():
        raise MigrationError(
            f"database {safe_url(url)} is at revision {rev}, not head; run `arena db upgrade`"
        )


def ensure_schema(url: str) -> str:
    """Create or migrate the schema up to head (what ``arena serve`` does on start); returns the revision.

    A database holding tables but no Alembic version is refused rather than touched.
    """
    rev = current(url)
    head = head_revision()
    if rev == head:
        return head
    if rev is None:
        engine = make_engine(url)
        try:
            with database_errors(url), engine.connect() as conn:
                tables = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
        finally:
            engine.dispose()
        if tables:
            raise MigrationError(
                "database has tables but no Alembic revision; it was not created by `arena db upgrade`. "
                "Use an empty database or stamp it with `alembic stamp`."
            )
    upgrade(url, "head")
    return head
