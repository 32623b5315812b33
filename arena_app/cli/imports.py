"""``arena import battles FILE``: bring a FastChat battles file into the database (see
:mod:`arena_app.services.importing`)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from arena_app.cli.settings_flags import add_command
from arena_app.services.importing import ImportReport, import_battles, import_salt
from arena_app.services.operator import operator_database
from arena_app.settings import ArenaSettings

if TYPE_CHECKING:
    from arena_app.cli.settings_flags import Subcommands

SETTINGS = ("database_url", "client_id_salt", "secrets_dir", "cache_dir")
LOG_SETTINGS = (*SETTINGS, "identity_words")


def register(sub: Subcommands) -> None:
    imp = add_command(sub, "import", settings=LOG_SETTINGS, help="import FastChat battles into the database")
    what = imp.add_subparsers(dest="import_command", metavar="WHAT", required=True)
    battles = add_command(
        what,
        "battles",
        settings=SETTINGS,
        help="import a FastChat clean_battle JSON array or JSON Lines file",
        description="Import battles and their votes from FastChat's clean_battle_*.json (a JSON array) or a "
        "JSON Lines file of the same objects. Re-importing adds nothing (question_id is the key); bad rows "
        "are reported with their position and the others imported, unless --strict.",
    )
    battles.add_argument("file", type=Path, metavar="FILE")
    battles.add_argument(
        "--format", dest="fmt", choices=("json", "jsonl"), help="file format (default: from the file)"
    )
    battles.add_argument(
        "--strict", action="store_true", help="check every row first; import nothing if any is bad"
    )
    battles.set_defaults(func=_import_battles)
    logs = add_command(
        what,
        "logs",
        settings=LOG_SETTINGS,
        help="import FastChat's raw *-conv.json conversation logs",
        description="Rebuild battles, votes and conversations from every *-conv.json in DIR. FastChat's "
        "cleaning rules become excluded_reason (identity words, error texts, names that do not match); "
        "the voter's ip is stored only as its salted hash. Re-importing adds nothing (conv_id is the key).",
    )
    logs.add_argument("directory", type=Path, metavar="DIR")
    logs.set_defaults(func=_import_logs)


class _TtyProgress:
    """Rows read and imported on stderr, redrawn at most five times a second; only on a terminal."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, read: int, imported: int) -> None:
        now = time.monotonic()
        if now - self._last < 0.2:
            return
        self._last = now
        sys.stderr.write(f"\r\x1b[Kimporting: {read:,} rows read, {imported:,} battles imported")
        sys.stderr.flush()


def print_report(path: Path, report: ImportReport) -> None:
    others = f", {report.other_records:,} other records" if report.other_records else ""
    print(
        f"{path}: {report.rows_read:,} rows read, {report.imported:,} battles imported, "
        f"{report.already_present:,} already present, {report.bad_count:,} bad{others} "
        f"({report.seconds:.1f} s)"
    )
    for bad in report.bad:
        print(f"  bad row {bad}", file=sys.stderr)
    more = report.bad_count - len(report.bad)
    if more:
        print(f"  (and {more:,} more bad rows)", file=sys.stderr)


def _import_battles(args: argparse.Namespace, settings: ArenaSettings) -> int:
    tty = sys.stderr.isatty()
    with operator_database(settings.database_url) as factory:
        salt = import_salt(factory, settings)
        try:
            report = import_battles(
                factory,
                args.file,
                salt=salt,
                fmt=args.fmt,
                strict=args.strict,
                progress=_TtyProgress() if tty else None,
            )
        finally:
            if tty:
                sys.stderr.write("\r\x1b[K")
    print_report(args.file, report)
    return 1 if report.bad_count else 0


def _import_logs(args: argparse.Namespace, settings: ArenaSettings) -> int:
    from arena_app.services.importing_logs import import_logs

    tty = sys.stderr.isatty()
    with operator_database(settings.database_url) as factory:
        salt = import_salt(factory, settings)
        try:
            report = import_logs(
                factory,
                args.directory,
                salt=salt,
                extra_words=settings.identity_words,
                progress=_TtyProgress() if tty else None,
            )
        finally:
            if tty:
                sys.stderr.write("\r\x1b[K")
    print_report(args.directory, report)
    return 1 if report.bad_count else 0
