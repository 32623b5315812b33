"""Input checks for the storage API: each raises :class:`InvalidInputError` with what is wrong."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from arena_app.domain import values
from arena_app.storage.errors import InvalidInputError

E = TypeVar("E", bound=StrEnum)

MAX_NAME = 200
MAX_ID = 64


def choice(what: str, value: str, allowed: type[E]) -> E:
    """``value`` as a member of the vocabulary enum ``allowed`` (a plain string with a known value is
    accepted: callers outside the typed code may send one)."""
    try:
        return allowed(value)
    except ValueError:
        raise InvalidInputError(
            f"invalid {what} {value!r}: expected one of {', '.join(values(allowed))}"
        ) from None


def text(what: str, value: str, max_len: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{what} must be a non-empty string")
    if len(value) > max_len:
        raise InvalidInputError(f"{what} is longer than {max_len} characters")
    return value


def aware(what: str, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidInputError(f"{what} must be timezone-aware (UTC); got a naive datetime")
    return value


def positive(what: str, value: float) -> float:
    """A finite number > 0 (e.g. a sampling weight)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not (0 < value < float("inf")):
        raise InvalidInputError(f"{what} must be a finite number > 0, got {value!r}")
    return float(value)


def count(what: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"{what} must be a non-negative integer, got {value!r}")
    return value
