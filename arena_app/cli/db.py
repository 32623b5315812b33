"""``arena db upgrade|downgrade|current``: run the Alembic migrations against ``--database-url``."""

from __future__ import annotations

import argparse
from typing import Any

from arena_app.services.operator import downgrade_schema, schema_status, upgrade_schema
from arena_app.settings import ArenaSettings


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


def _upgrade(args: argparse.Namespace, settings: ArenaSettings) -> int:
    status = upgrade_schema(settings.database_url, args.revision)
    print(f"{status.database}: at revision {status.describe()}")
    return 0


def _downgrade(args: argparse.Namespace, settings: ArenaSettings) -> int:
    status = downgrade_schema(settings.database_url, args.revision)
    print(f"{status.database}: at revision {status.revision or 'base (no tables)'}")
    return 0


def _current(args: argparse.Namespace, settings: ArenaSettings) -> int:
    print(schema_status(settings.database_url).describe())
    return 0
