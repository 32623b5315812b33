"""``arena export votes``: stream votes to CSV, JSON Lines or FastChat's JSON (see
:mod:`arena_app.services.export`)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from arena_app.cli.settings_flags import add_command
from arena_app.services.export import FORMATS, MODES, ExportOptions, export_votes, parse_when
from arena_app.services.operator import operator_database
from arena_app.settings import ArenaSettings

if TYPE_CHECKING:
    from arena_app.cli.settings_flags import Subcommands


SETTINGS = ("database_url",)


def register(sub: Subcommands) -> None:
    export = add_command(sub, "export", settings=SETTINGS, help="export data (votes) to files")
    what = export.add_subparsers(dest="export_command", metavar="WHAT", required=True)
    votes = add_command(
        what,
        "votes",
        settings=SETTINGS,
        help="export votes to CSV or JSON Lines",
        description="Stream votes to a file (written atomically). Columns: vote_id, battle_id, tstamp, mode, "
        "model_a, model_b, winner, turn, excluded_reason, judge, tags [, conversation_a, conversation_b].",
    )
    votes.add_argument(
        "--out", required=True, type=Path, metavar="FILE", help="output file (replaced atomically)"
    )
    votes.add_argument("--since", metavar="DATE", help="only votes at or after this UTC time (ISO 8601)")
    votes.add_argument("--until", metavar="DATE", help="only votes before this UTC time (ISO 8601)")
    votes.add_argument("--mode", choices=MODES, default="all", help="battle mode (default: all)")
    votes.add_argument(
        "--include-excluded", action="store_true", help="also export excluded votes (identity leak, ...)"
    )
    votes.add_argument(
        "--format",
        dest="fmt",
        choices=FORMATS,
        default="csv",
        help="file format (default: csv; fastchat: a JSON array FastChat's elo_analysis reads)",
    )
    votes.add_argument(
        "--with-conversations",
        action="store_true",
        help="add conversation_a / conversation_b as JSON lists of {role, content}",
    )
    votes.set_defaults(func=_export_votes)


class _TtyProgress:
    """Progress on stderr, redrawn at most a few times a second; only used on a terminal."""

    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self._last < 0.2 and done != total:
            return
        self._last = now
        pct = f" ({100 * done / total:.0f}%)" if total else ""
        of = f"/{total:,}" if total is not None else ""
        sys.stderr.write(f"\rexporting votes: {done:,}{of}{pct}")
        sys.stderr.flush()


def _export_votes(args: argparse.Namespace, settings: ArenaSettings) -> int:
    options = ExportOptions(
        since=parse_when(args.since, "--since date") if args.since else None,
        until=parse_when(args.until, "--until date") if args.until else None,
        mode=args.mode,
        include_excluded=args.include_excluded,
        fmt=args.fmt,
        with_conversations=args.with_conversations,
    )
    options.vote_filter()  # validate before touching the database
    tty = sys.stderr.isatty()
    with operator_database(settings.database_url) as session_factory:
        try:
            rows = export_votes(
                session_factory,
                args.out,
                options,
                progress=_TtyProgress() if tty else None,
                count_total=tty,
            )
        finally:
            if tty:
                sys.stderr.write("\n")
    print(f"exported {rows} votes to {args.out}", file=sys.stderr)
    return 0
