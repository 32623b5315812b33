"""``arena db upgrade|downgrade|current``: run the Alembic migrations against ``--database-url``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from arena_app.cli.settings_flags import add_command
from arena_app.services.operator import downgrade_schema, schema_status, upgrade_schema
from arena_app.settings import ArenaSettings

if TYPE_CHECKING:
    from arena_app.cli.settings_flags import Subcommands


SETTINGS = ("database_url",)


def register(sub: Subcommands) -> None:
    db = add_command(
        sub,
        "db",
        settings=SETTINGS,
        help="create, migrate or inspect the database schema",
        description="Manage the database schema with the Alembic migrations in migrations/.",
    )
    actions = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)

    up = add_command(
        actions, "upgrade", settings=SETTINGS, help="migrate up (creates the schema on a new database)"
    )
    up.add_argument(
        "revision", nargs="?", default="head", metavar="REV", help="target revision (default: head)"
    )
    up.set_defaults(func=_upgrade)

    down = add_command(
        actions, "downgrade", settings=SETTINGS, help="migrate down (base removes every table)"
    )
    down.add_argument("revision", metavar="REV", help="target revision, e.g. -1 or base")
    down.set_defaults(func=_downgrade)

    cur = add_command(actions, "current", settings=SETTINGS, help="print the database's revision")
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
