"""Lenient reads of one cell of a battles file (any JSON value, or CSV text): anonymity, counts, tags and
timestamps (used by :mod:`arena_app.files.battle_columns`)."""

from __future__ import annotations

from datetime import datetime


def is_anony(v: object) -> bool:
    return v is True or v == "anony" or v == "true" or v == "True" or v == 1 or v == "1"


def whole(v: object) -> int:
    if not isinstance(v, int | float | str):
        return 0
    try:
        return int(v)
    except ValueError:
        return 0


def tag_list(v: object) -> list[str]:
    if isinstance(v, list | tuple):
        return [t for t in v if isinstance(t, str)]
    if isinstance(v, str):
        return [t for t in v.split(",") if t]
    return []


def seconds(v: object) -> float:
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return float("nan")
    return float("nan")
