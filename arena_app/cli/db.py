"""``arena db upgrade|downgrade|current``: run the Alembic migrations against ``--database-url``."""

from __future__ import annotations

import argparse
from typing import Any

from arena_app.settings import ArenaSettings
from arena_app.storage.db import safe_url


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    db = sub.add_parser(
        "db",
        parents=parents,
        help="create, migrate or inspect the database schema",
        description="Manage the database schema with the Alembic migrations in migrations/.",
    )
    actions = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)

    up = actions.add_parser(
        "upgrade", parents=parents, help="migrate up (creates the schema on a new database)"
    )
    up.add_argument(
        "revision", nargs="?", default="head", metavar="REV", help="target revision (default: head)"
    )
    up.set_defaults(func=_upgrade)

    down = actions.add_parser("downgrade", parents=parents, help="migrate down (base removes every table)")
    down.add_argument("revision", metavar="REV", help="target revision, e.g. -1 or base")
    down.set_defaults(func=_downgrade)

    cur = actions.add_parser("current", parents=parents, help="print the database's revision")
    cur.set_defaults(func=_current)


def _describe(rev: str | None) -> str:
    from arena_app.storage import migrate  # alembic imports slowly: load it only when needed

    if rev is None:
        return "none (empty database; run `arena db upgrade`)"
    head = migrate.head_revision()  # reads every migration script: once
    return f"{rev} (head)" if rev == head else f"{rev} (behind head {head})"


def _upgrade(args: argparse.Namespace, settings: ArenaSettings) -> int:
    from arena_app.storage import migrate  # alembic imports slowly: load it only when needed

    migrate.upgrade(settings.database_url, args.revision)
    print(
        f"{safe_url(settings.database_url)}: at revision {_describe(migrate.current(settings.database_url))}"
    )
    return 0


def _downgrade(args: argparse.Namespace, settings: ArenaSettings) -> int:
    from arena_app.storage import migrate  # alembic imports slowly: load it only when needed

    missing = migrate.missing_sqlite_file(settings.database_url)
    if missing is not None:
        raise migrate.MigrationError(f"database file {missing} does not exist (check --database-url)")
    migrate.downgrade(settings.database_url, args.revision)
    rev = migrate.current(settings.database_url)
    print(f"{safe_url(settings.database_url)}: at revision {rev or 'base (no tables)'}")
    return 0


def _current(args: argparse.Namespace, settings: ArenaSettings) -> int:
    from arena_app.storage import migrate  # alembic imports slowly: load it only when needed

    missing = migrate.missing_sqlite_file(settings.database_url)
    if missing is not None:  # reading the revision would create an empty file at a mistyped path
        print(f"none (no database file at {missing}; `arena db upgrade` creates it)")
        return 0
    print(_describe(migrate.current(settings.database_url)))
    return 0
