"""Generate one ``--flag`` per :class:`ArenaSettings` field, so every setting has a flag and an env var.

Each subcommand declares the settings it uses (:func:`add_command`); its parser, and so its ``--help``,
carries only those flags. Environment variables are read for every setting whatever the command.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from pydantic import SecretStr

from arena_app.settings import ArenaSettings

if TYPE_CHECKING:
    Subcommands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

SETTING_PREFIX = "setting_"  # argparse dest of a settings flag: setting_<field>

# Readable placeholders in --help; anything not listed falls back to one derived from the field type.
METAVARS = {
    "database_url": "URL",
    "endpoints_file": "PATH",
    "host": "ADDR",
    "port": "PORT",
    "client_id_salt": "SECRET",
    "trusted_proxies": "CIDR,...",
    "identity_words": "WORD,...",
    "excluded_models": "MODEL,...",
    "recompute_every": "SECONDS",
    "cache_dir": "DIR",
    "secrets_dir": "DIR",
    "sampling": "uniform|weighted|active",
    "rate_limit_battles": "N/UNIT[;...]|off",
    "rate_limit_votes": "N/UNIT[;...]|off",
}


def _metavar(name: str, annotation: object) -> str:
    if name in METAVARS:
        return METAVARS[name]
    if annotation is int:
        return "N"
    if annotation is float:
        return "X"
    return "VALUE"


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def flag_of(name: str) -> str:
    """``database_url`` -> ``--database-url``."""
    return "--" + name.replace("_", "-")


def settings_parent_parser(
    fields: Sequence[str] | None = None, *, title: str = "settings (flag > environment variable > default)"
) -> argparse.ArgumentParser:
    """A parent parser holding the flags of ``fields`` (default: every setting), in the settings' order;
    values left unset stay absent (argparse.SUPPRESS). An unknown field name is a ``KeyError``."""
    unknown = [f for f in fields or () if f not in ArenaSettings.model_fields]
    if unknown:
        raise KeyError(f"not a setting: {', '.join(unknown)}")
    wanted = set(ArenaSettings.model_fields if fields is None else fields)
    parent = argparse.ArgumentParser(add_help=False)
    if not wanted:
        return parent
    group = parent.add_argument_group(title)
    for name, field in ArenaSettings.model_fields.items():
        if name not in wanted:
            continue
        env = "ARENA_" + name.upper()
        default = field.get_default(call_default_factory=True)
        if isinstance(default, SecretStr):
            shown = "(empty)" if not default.get_secret_value() else "(set)"
        elif isinstance(default, Path):
            shown = str(default)
        else:
            shown = repr(default)
        if name == "client_id_salt":
            shown += "; prefer the env var: flags show up in process lists"
        help_text = f"{field.description} [env {env}; default {shown}]".replace("%", "%%")
        annotation = field.annotation
        kwargs: dict[str, object] = {"dest": SETTING_PREFIX + name, "default": argparse.SUPPRESS}
        if annotation is bool:
            kwargs.update(type=_bool, metavar="true|false", nargs="?", const=True)  # bare `--demo`: true
        else:
            kwargs["metavar"] = _metavar(name, annotation)
        if annotation in (int, float):
            kwargs["type"] = annotation
        group.add_argument(flag_of(name), help=help_text, **kwargs)  # type: ignore[arg-type]
    return parent


def add_command(
    sub: Subcommands, name: str, *, settings: Sequence[str], **kwargs: object
) -> argparse.ArgumentParser:
    """A subcommand parser with the flags of the ``settings`` it uses (and no other settings flag).

    The parser records them (``args.settings_fields``, ``args.command_path``), so a settings flag given
    before the command name that the command does not use can be refused (see :func:`undeclared_settings`).
    A command group (``arena db``) declares the union of its actions' settings.
    """
    parser = sub.add_parser(name, parents=[settings_parent_parser(settings)], **kwargs)  # type: ignore[arg-type]
    parser.set_defaults(settings_fields=tuple(settings), command_path=parser.prog)
    return parser


def undeclared_settings(args: argparse.Namespace) -> list[str]:
    """Flags of settings given on the command line that the chosen command does not use."""
    declared = set(getattr(args, "settings_fields", ()))
    return [flag_of(name) for name in settings_overrides(args) if name not in declared]


def settings_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The settings given on the command line, keyed by field name."""
    return {
        key.removeprefix(SETTING_PREFIX): value
        for key, value in vars(args).items()
        if key.startswith(SETTING_PREFIX)
    }
