"""Alembic environment: our engine factory (SQLite WAL + busy timeout) and the ORM metadata.

URL precedence: ``config.attributes["database_url"]`` (set by :mod:`arena_app.storage.migrate`),
``alembic -x url=...``, ``ARENA_DATABASE_URL``, then ``sqlalchemy.url`` in alembic.ini.
"""

from __future__ import annotations

import os
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import DateTime, pool

from arena_app.storage.db import make_engine
from arena_app.storage.models import Base
from arena_app.storage.types import UTCDateTime

config = context.config

if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _database_url() -> str:
    url = config.attributes.get("database_url") or context.get_x_argument(as_dictionary=True).get("url")
    url = url or os.environ.get("ARENA_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: pass -x url=... or set ARENA_DATABASE_URL")
    return str(url)


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render our UTCDateTime decorator as a plain timezone-aware DateTime so migrations do not import
    application code (the decorator only converts values in Python)."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def compare_type(
    context: Any, inspected_column: Any, metadata_column: Any, inspected_type: Any, metadata_type: Any
) -> bool | None:
    if isinstance(metadata_type, UTCDateTime) and isinstance(inspected_type, DateTime):
        # SQLite reflects no time zone; PostgreSQL must have timestamptz.
        return context.dialect.name != "sqlite" and not inspected_type.timezone
    return None  # default comparison


COMMON: dict[str, Any] = {
    "target_metadata": target_metadata,
    "render_as_batch": True,  # SQLite cannot ALTER most things; batch mode copies the table
    "compare_type": compare_type,
    "compare_server_default": True,
    "render_item": render_item,
}


def run_migrations_offline() -> None:
    context.configure(url=_database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"}, **COMMON)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, **COMMON)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_database_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            context.configure(connection=conn, **COMMON)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
