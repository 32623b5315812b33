"""Generate one ``--flag`` per :class:`ArenaSettings` field, so every setting has a flag and an env var."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from arena_app.settings import ArenaSettings

# Readable placeholders in --help; anything not listed falls back to one derived from the field type.
METAVARS = {
    "database_url": "URL",
    "endpoints_file": "PATH",
    "host": "ADDR",
    "port": "PORT",
    "client_id_salt": "SECRET",
    "trusted_proxies": "CIDR,...",
    "identity_words": "WORD,...",
    "recompute_every": "SECONDS",
    "cache_dir": "DIR",
}


def _metavar(name: str, annotation: Any) -> str:
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


def settings_parent_parser() -> argparse.ArgumentParser:
    """A parent parser holding every settings flag; values left unset stay absent (argparse.SUPPRESS)."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("settings (flag > environment variable > default)")
    for name, field in ArenaSettings.model_fields.items():
        flag = "--" + name.replace("_", "-")
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
        kwargs: dict[str, Any] = {"dest": f"setting_{name}", "default": argparse.SUPPRESS, "help": help_text}
        annotation = field.annotation
        if annotation is bool:
            kwargs["type"] = _bool
            kwargs["metavar"] = "true|false"
            kwargs.update(nargs="?", const=True)  # a bare `--demo` means true
        else:
            kwargs["metavar"] = _metavar(name, annotation)
        if annotation in (int, float):
            kwargs["type"] = annotation
        group.add_argument(flag, **kwargs)
    return parent


def settings_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line, keyed by field name."""
    return {
        key.removeprefix("setting_"): value for key, value in vars(args).items() if key.startswith("setting_")
    }
