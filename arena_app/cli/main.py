"""Entry point of the ``arena`` console script.

Subcommand modules (``arena_app.cli.<name>``) each expose ``register(subparsers)`` which adds their
parsers (each with the settings flags it uses, see :func:`~arena_app.cli.settings_flags.add_command`) and
sets ``func(args, settings) -> int`` as the handler. Known errors become one line on stderr and a non-zero
exit; tracebacks are shown only with ``ARENA_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from arena_app import __version__
from arena_app.cli.settings_flags import (
    flag_of,
    settings_overrides,
    settings_parent_parser,
    undeclared_settings,
)
from arena_app.settings import load_settings

# Modules that register subcommands, in the order they appear in --help.
SUBCOMMAND_MODULES = ("serve", "db", "imports", "export", "leaderboard", "integrity", "models", "worker")


class CLIError(Exception):
    """An error whose message is shown to the user as one line."""


def build_parser() -> argparse.ArgumentParser:
    # Every settings flag is accepted before the command; the command then refuses those it does not use.
    every_setting = settings_parent_parser(title="settings (each command uses some; see COMMAND --help)")
    parser = argparse.ArgumentParser(
        prog="arena",
        usage="arena [SETTINGS] COMMAND ...",
        epilog="Run `arena COMMAND --help` for a command's options and the settings it uses. Settings "
        "flags work before or after the command; every setting is also an ARENA_* environment variable.",
        description="Self-hostable LLM arena: battles, votes in SQL, Elo / Bradley-Terry leaderboard.",
        parents=[every_setting],
    )
    parser.add_argument("--version", action="version", version=f"arena {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, prog="arena")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"arena_app.cli.{name}").register(sub)
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse, and refuse (exit 2, like any usage error) a settings flag the chosen command does not use."""
    args = parser.parse_args(argv)
    stray = undeclared_settings(args)
    if stray:
        declared = ", ".join(flag_of(f) for f in args.settings_fields) or "none"
        parser.error(f"{', '.join(stray)}: not a setting of `{args.command_path}` (its settings: {declared})")
    return args


def _one_line(exc: BaseException) -> str:
    from arena_app.services.errors import ServiceError

    if isinstance(exc, ServiceError):
        # a service's message is meant for the user whole: e.g. every problem of an endpoint file, one per
        # line (fixing them one run at a time is slow)
        return str(exc)
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            parts.append(f"{loc}: {err['msg']}")
        return "invalid setting: " + "; ".join(parts)
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parse_args(parser, argv)
    debug = os.environ.get("ARENA_DEBUG") == "1"
    try:
        settings = load_settings(**settings_overrides(args))
        return int(args.func(args, settings) or 0)
    except KeyboardInterrupt:
        print("arena: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        print(f"arena: error: {_one_line(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
