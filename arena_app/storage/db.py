"""Engine and session creation. SQLite gets WAL mode and a busy timeout so concurrent web writers wait
instead of failing with "database is locked"."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from arena_app.storage.errors import ConfigurationError, DatabaseUnavailableError, StorageError

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def parse_url(database_url: str) -> URL:
    """The parsed URL; raises :class:`ConfigurationError` for a malformed one."""
    try:
        return make_url(database_url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        # never echo the string: a malformed URL may still carry a password
        raise ConfigurationError(
            "invalid database URL: expected e.g. sqlite:///arena.db or "
            "postgresql+psycopg://user@host:5432/dbname"
        ) from exc


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``database_url``; raises :class:`ConfigurationError` for a malformed URL."""
    url = parse_url(database_url)
    if url.get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {}).setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    else:
        kwargs.setdefault("pool_pre_ping", True)
    try:
        engine = create_engine(url, **kwargs)
    except Exception as exc:  # unknown dialect / missing driver
        raise ConfigurationError(f"cannot use database URL {url.render_as_string()}: {exc}") from exc
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def _url_of(session: Session) -> str:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    return engine.url.render_as_string(hide_password=True)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error. Driver errors come out translated
    (:func:`database_errors`), so callers (the UI) can tell a database outage from a bug."""
    session = factory()
    try:
        with database_errors(_url_of(session)):
            yield session
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def safe_url(database_url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<invalid URL>"


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


@contextmanager
def database_errors(database_url: str) -> Iterator[None]:
    """Translate driver errors into storage errors with one readable line (``raise ... from exc``).

    Connection failures become :class:`DatabaseUnavailableError`; a missing table means the schema was never
    created, which gets the fix in the message.
    """
    try:
        yield
    except (OperationalError, InterfaceError, ProgrammingError) as exc:
        detail = _first_line(exc)
        if "no such table" in detail or "does not exist" in detail and "relation" in detail:
            raise StorageError(
                f"database {safe_url(database_url)} has no arena schema ({detail}); run `arena db upgrade`"
            ) from exc
        if isinstance(exc, ProgrammingError):
            raise StorageError(f"database error: {detail}") from exc
        raise DatabaseUnavailableError(f"cannot use database {safe_url(database_url)}: {detail}") from exc
    except DBAPIError as exc:
        raise StorageError(f"database error: {_first_line(exc)}") from exc
