"""The operator commands' entrance to the database: the schema migrations, and opening it for a command.

:func:`operator_database` is what ``arena export`` and ``arena leaderboard recompute|show`` run inside: it
refuses a database the command cannot use (a SQLite file that does not exist, no schema, a schema behind
head) before making an engine, translates storage errors and disposes the engine however the block ends.
Errors keep the storage layer's one-line detail (the URL with its password masked, the driver's reason),
which is what an operator needs, and come out as :mod:`arena_app.services.errors`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from arena_app.services.errors import Refused, Unavailable
from arena_app.storage.db import database_errors, make_engine, make_session_factory, safe_url
from arena_app.storage.errors import ConfigurationError, DatabaseUnavailableError, StorageError


@contextmanager
def operator_errors() -> Iterator[None]:
    """Storage errors raised in the block as service errors with the same message.

    A refused migration or schema (unknown revision, missing file, schema behind) is :class:`Refused`; a
    database that cannot be reached, is misconfigured or has no arena schema is :class:`Unavailable`.
    Errors about single rows (not found, duplicate, invalid input) are bugs here and propagate unchanged.
    """
    from arena_app.storage.migrate import MigrationError  # alembic imports slowly: only when needed

    try:
        yield
    except MigrationError as exc:
        raise Refused(str(exc)) from exc
    except (DatabaseUnavailableError, ConfigurationError) as exc:
        raise Unavailable(str(exc)) from exc
    except StorageError as exc:
        if type(exc) is not StorageError:  # NotFoundError, DuplicateVoteError, InvalidInputError
            raise
        raise Unavailable(str(exc)) from exc


@contextmanager
def operator_database(database_url: str) -> Iterator[sessionmaker[Session]]:
    """A session factory on a database at the current schema, for one operator command."""
    from arena_app.storage import migrate  # alembic imports slowly: only when needed

    with operator_errors():
        migrate.require_current_schema(database_url)  # before the engine: a refusal leaves nothing open
        engine = make_engine(database_url)
        try:
            with database_errors(database_url):
                yield make_session_factory(engine)
        finally:
            engine.dispose()


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database's schema stands; ``database`` is its URL with any password masked."""

    database: str
    revision: str | None  # None: no Alembic revision (empty database, or after downgrade to base)
    missing_file: str | None = None  # a SQLite file that does not exist (nothing was created)

    def describe(self) -> str:
        """``<rev> (head)``, ``<rev> (behind head <head>)`` or why there is none."""
        if self.missing_file is not None:
            return f"none (no database file at {self.missing_file}; `arena db upgrade` creates it)"
        if self.revision is None:
            return "none (empty database; run `arena db upgrade`)"
        from arena_app.storage.migrate import head_revision  # reads every migration script: once

        head = head_revision()
        return f"{self.revision} (head)" if self.revision == head else f"{self.revision} (behind head {head})"


def schema_status(database_url: str) -> SchemaStatus:
    """The database's revision; a SQLite file that does not exist is reported, not created."""
    from arena_app.storage import migrate

    with operator_errors():
        missing = migrate.missing_sqlite_file(database_url)
        if missing is not None:  # reading the revision would create an empty file at a mistyped path
            return SchemaStatus(safe_url(database_url), None, missing)
        return SchemaStatus(safe_url(database_url), migrate.current(database_url))


def upgrade_schema(database_url: str, revision: str = "head") -> SchemaStatus:
    """Migrate up to ``revision`` (a new database gets the whole schema)."""
    from arena_app.storage import migrate

    with operator_errors():
        migrate.upgrade(database_url, revision)
        return SchemaStatus(safe_url(database_url), migrate.current(database_url))


def downgrade_schema(database_url: str, revision: str) -> SchemaStatus:
    """Migrate down to ``revision`` (``base`` removes every table); refuses a SQLite file that is missing."""
    from arena_app.storage import migrate

    with operator_errors():
        missing = migrate.missing_sqlite_file(database_url)
        if missing is not None:
            raise migrate.MigrationError(f"database file {missing} does not exist (check --database-url)")
        migrate.downgrade(database_url, revision)
        return SchemaStatus(safe_url(database_url), migrate.current(database_url))
