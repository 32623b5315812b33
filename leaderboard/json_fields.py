"""Typed reads of decoded JSON: each accessor checks one key's type and names the key when it is wrong.

The leaderboard snapshot (:mod:`leaderboard.result`) is read back through this one reader, so no other
code indexes the stored JSON by string keys. JSON has no NaN: numbers that are NaN or infinite are stored
as null; :meth:`Fields.number` and :meth:`Fields.numbers` read null back as NaN, the ``optional_`` readers
keep it as None.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence


class Fields:
    """One JSON object; ``where`` names it in error messages (e.g. ``result.style``)."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}: expected a JSON object, got {type(data).__name__}")
        self._data: Mapping[str, object] = data
        self.where = where

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def _get(self, key: str, default: object = None) -> object:
        if key in self._data:
            return self._data[key]
        if default is None:
            raise ValueError(f"{self.where}: missing {key!r}")
        return default

    def _check(self, key: str, expected: str) -> Callable[[], ValueError]:
        def error() -> ValueError:
            return ValueError(f"{self.where}.{key}: expected {expected}, got {self._data.get(key)!r:.80}")

        return error

    def obj(self, key: str) -> Fields:
        return Fields(self._get(key), f"{self.where}.{key}")

    def optional_obj(self, key: str) -> Fields | None:
        return None if self._data.get(key) is None else self.obj(key)

    def string(self, key: str, default: str | None = None) -> str:
        value = self._get(key, default)
        if not isinstance(value, str):
            raise self._check(key, "a string")()
        return value

    def optional_string(self, key: str) -> str | None:
        value = self._data.get(key)
        if value is not None and not isinstance(value, str):
            raise self._check(key, "a string or null")()
        return value

    def boolean(self, key: str, default: bool | None = None) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self._check(key, "true or false")()
        return value

    def integer(self, key: str, default: int | None = None) -> int:
        return _int(self._get(key, default), self._check(key, "a whole number"))

    def optional_integer(self, key: str, default: int | None = None) -> int | None:
        value = self._data.get(key, default)
        return None if value is None else _int(value, self._check(key, "a whole number or null"))

    def number(self, key: str, default: float | None = None) -> float:
        """A number; null reads as NaN."""
        if key not in self._data and default is not None:
            return default
        return _float(self._get(key), self._check(key, "a number or null"))

    def optional_number(self, key: str) -> float | None:
        """A number, or None when the key is missing or null."""
        return _optional_float(self._data.get(key), self._check(key, "a number or null"))

    def strings(self, key: str) -> list[str]:
        values = self._list(key)
        if not all(isinstance(v, str) for v in values):
            raise self._check(key, "a list of strings")()
        return [str(v) for v in values]

    def booleans(self, key: str) -> list[bool]:
        values = self._list(key)
        if not all(isinstance(v, bool) for v in values):
            raise self._check(key, "a list of true/false")()
        return [bool(v) for v in values]

    def integers(self, key: str) -> list[int]:
        error = self._check(key, "a list of whole numbers")
        return [_int(v, error) for v in self._list(key)]

    def numbers(self, key: str) -> list[float]:
        """A list of numbers; null entries read as NaN."""
        error = self._check(key, "a list of numbers")
        return [_float(v, error) for v in self._list(key)]

    def optional_numbers(self, key: str) -> list[float | None]:
        """A list of numbers; null entries stay None."""
        error = self._check(key, "a list of numbers")
        return [_optional_float(v, error) for v in self._list(key)]

    def optional_number_rows(self, key: str) -> list[list[float | None]]:
        """A matrix (list of lists) of numbers; null cells stay None."""
        error = self._check(key, "a list of lists of numbers")
        return [[_optional_float(v, error) for v in _as_list(row, error)] for row in self._list(key)]

    def integer_rows(self, key: str) -> list[list[int]]:
        error = self._check(key, "a list of lists of whole numbers")
        return [[_int(v, error) for v in _as_list(row, error)] for row in self._list(key)]

    def number_map(self, key: str) -> dict[str, float]:
        """An object of numbers; null values read as NaN."""
        error = self._check(key, "an object of numbers")
        return {k: _float(v, error) for k, v in self.obj(key)._data.items()}

    def optional_number_map(self, key: str) -> dict[str, float | None]:
        """An object of numbers; null values stay None."""
        error = self._check(key, "an object of numbers")
        return {k: _optional_float(v, error) for k, v in self.obj(key)._data.items()}

    def _list(self, key: str) -> list[object]:
        return _as_list(self._get(key), self._check(key, "a list"))


def _as_list(value: object, error: Callable[[], ValueError]) -> list[object]:
    if not isinstance(value, list | tuple):
        raise error()
    return list(value)


def _int(value: object, error: Callable[[], ValueError]) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise error()
    return value


def _float(value: object, error: Callable[[], ValueError]) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise error()
    return float(value)


def _optional_float(value: object, error: Callable[[], ValueError]) -> float | None:
    return None if value is None else _float(value, error)


def json_number(value: float | None) -> float | None:
    """A float for JSON: NaN and infinities become None (JSON has no such numbers)."""
    return None if value is None or not math.isfinite(value) else float(value)


def json_numbers(values: Sequence[float | None]) -> list[float | None]:
    return [json_number(v) for v in values]


def json_number_map(values: Mapping[str, float | None]) -> dict[str, float | None]:
    return {k: json_number(v) for k, v in values.items()}
