"""Entry point of the ``arena`` console script.

Subcommand modules (``arena_app.cli.<name>``) each expose ``register(subparsers, parents)`` which adds
their parsers and sets ``func(args, settings) -> int`` as the handler. Known errors become one line on
stderr and a non-zero exit; tracebacks are shown only with ``ARENA_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from arena_app import __version__
from arena_app.cli.settings_flags import settings_overrides, settings_parent_parser
from arena_app.settings import load_settings

# Modules that register subcommands, in the order they appear in --help.
SUBCOMMAND_MODULES = ("serve", "db", "export", "leaderboard", "models", "worker")


class CLIError(Exception):
    """An error whose message is shown to the user as one line."""


def build_parser() -> argparse.ArgumentParser:
    parents = [settings_parent_parser()]
    parser = argparse.ArgumentParser(
        prog="arena",
        usage="arena [SETTINGS] COMMAND ...",
        epilog="Run `arena COMMAND --help` for a command's options. Settings flags work before or after "
        "the command.",
        description="Self-hostable LLM arena: battles, votes in SQL, Elo / Bradley-Terry leaderboard.",
        parents=parents,
    )
    parser.add_argument("--version", action="version", version=f"arena {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, prog="arena")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"arena_app.cli.{name}").register(sub, parents)
    return parser


def _one_line(exc: BaseException) -> str:
    from arena_app.providers.errors import EndpointFileError

    if isinstance(exc, EndpointFileError):
        return str(exc)  # every problem of the file, one per line (fixing them one run at a time is slow)
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
    args = parser.parse_args(argv)
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
