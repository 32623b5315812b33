"""Shared fixtures.

Databases (names fixed in docs/architecture.md):

- ``sqlite_url``: a fresh SQLite file migrated to head (copied from a template migrated once per session);
- ``postgres_url``: a fresh PostgreSQL database with a random name, migrated to head (cloned from a template
  database migrated once per session) and dropped afterwards;
- ``db_url``: parametrised over both;
- ``empty_sqlite_url`` / ``empty_postgres_url`` / ``empty_db_url``: the same, without any schema (for
  migration tests).

Browser: ``browser``, the session's one Chromium (``tests/chromium.py``).

PostgreSQL comes from ``ARENA_TEST_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``;
its database is only used as the maintenance database for CREATE/DROP DATABASE). If the server cannot be
reached the PostgreSQL tests are skipped with the reason, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from arena_app.storage.migrate import upgrade
from tests.chromium import browser  # noqa: F401  (one Chromium per session, for browser and deploy tests)
from tests.ci import IN_CI

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

POSTGRES_URL = os.environ.get("ARENA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _db_name() -> str:
    return f"arena_test_{uuid.uuid4().hex[:12]}"


# --------------------------------------------------------------------------- SQLite


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def empty_sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'empty.db'}"


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """A fresh SQLite database file at head."""
    path = tmp_path / "arena.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


# --------------------------------------------------------------------------- PostgreSQL


class PostgresServer:
    """Creates and drops uniquely named databases through the maintenance database."""

    def __init__(self, url: str) -> None:
        self.url: URL = make_url(url)
        self._admin = create_engine(self.url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)

    def check(self) -> None:
        with self._admin.connect() as conn:
            conn.execute(text("SELECT 1"))

    def url_for(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def create(self, name: str, template: str | None = None) -> str:
        clause = f' TEMPLATE "{template}"' if template else ""
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
        return self.url_for(name)

    def drop(self, name: str) -> None:
        with self._admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        self._admin.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer(POSTGRES_URL)
    try:
        server.check()
    except Exception as exc:  # any connection problem: say which and why
        reason = f"PostgreSQL not reachable at {server.url.render_as_string()}: {str(exc).splitlines()[0]}"
        server.close()
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: PostgreSQL tests must run)", pytrace=False)
        pytest.skip(reason)
    yield server
    server.close()


@pytest.fixture(scope="session")
def _postgres_template(postgres_server: PostgresServer) -> Iterator[str]:
    name = _db_name() + "_tmpl"
    url = postgres_server.create(name)
    try:
        upgrade(url)  # disposes its engine: no open connection blocks CREATE DATABASE ... TEMPLATE
        yield name
    finally:
        postgres_server.drop(name)


@pytest.fixture
def make_postgres_db(postgres_server: PostgresServer) -> Iterator[Callable[..., str]]:
    """Factory: ``make_postgres_db(template=None)`` -> URL of a new database, dropped after the test."""
    created: list[str] = []

    def make(template: str | None = None) -> str:
        name = _db_name()
        url = postgres_server.create(name, template)
        created.append(name)
        return url

    yield make
    for name in created:
        postgres_server.drop(name)


@pytest.fixture
def empty_postgres_url(make_postgres_db: Callable[..., str]) -> str:
    return make_postgres_db()


@pytest.fixture
def postgres_url(make_postgres_db: Callable[..., str], _postgres_template: str) -> str:
    """A fresh PostgreSQL database at head, with a random name, dropped after the test."""
    return make_postgres_db(template=_postgres_template)


# --------------------------------------------------------------------------- both


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database: once on SQLite, once on PostgreSQL."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest) -> str:
    """An empty database (no schema): once on SQLite, once on PostgreSQL."""
    return str(request.getfixturevalue(f"empty_{request.param}_url"))
