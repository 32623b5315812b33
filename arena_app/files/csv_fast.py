"""Vectorised parsing of our vote-export CSV layout (no quoting), for ``arena leaderboard fit``.

A block of whole lines is viewed as a byte array; newline and comma positions give every field's span;
each needed column is then *factorised* (distinct values + one integer code per row) by hashing the
fixed-width byte rows with numpy and verifying the hash classes byte for byte. Only the distinct values
(a few hundred model names, four winners, ...) ever become Python strings. Blocks that do not fit the
layout (quotes, ragged lines, very long fields) return None and are parsed with the csv module instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_FIELD_BYTES = 256
_MULTS = (np.arange(1, 2 * MAX_FIELD_BYTES, 2, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)) | np.uint64(
    1
)


@dataclass(frozen=True)
class Factor:
    values: list[str]
    codes: np.ndarray  # int64 per row, index into values


@dataclass(frozen=True)
class Block:
    n: int
    fields: dict[str, Factor]
    empty: dict[str, np.ndarray]  # per requested "empty test" column: True where the field is empty
    tstamp: np.ndarray | None  # fixed-width bytes ("S<w>") per row, or None when widths differ


def _matrix(buf: np.ndarray, start: np.ndarray, lens: np.ndarray, width: int) -> np.ndarray:
    """(n, width) bytes of each field, zero-padded after its length. ``buf`` must have ``width`` spare
    bytes at its end (see :func:`parse_block`), so every window is in range."""
    windows = np.lib.stride_tricks.sliding_window_view(buf, width)
    mat: np.ndarray = windows[start]  # one contiguous copy per row
    np.multiply(mat, np.arange(width) < lens[:, None], out=mat)
    return mat


def factorize(buf: np.ndarray, start: np.ndarray, end: np.ndarray) -> Factor | None:
    lens = end - start
    n = len(start)
    if n == 0:
        return Factor([], np.zeros(0, dtype=np.int64))
    w = int(lens.max())
    if w > MAX_FIELD_BYTES:
        return None
    wp = max(8, (w + 7) // 8 * 8)
    mat = _matrix(buf, start, lens, wp)
    words = mat.view(np.uint64)
    with np.errstate(over="ignore"):
        h = (words * _MULTS[: words.shape[1]]).sum(axis=1, dtype=np.uint64) ^ lens.astype(np.uint64)
    _, first, inv = np.unique(h, return_index=True, return_inverse=True)
    inv = inv.ravel()
    if not np.array_equal(mat, mat[first[inv]]):  # a 64-bit hash collision: exact (slower) grouping
        voids = np.ascontiguousarray(mat).view(np.dtype((np.void, wp))).ravel()
        _, first, inv = np.unique(voids, return_index=True, return_inverse=True)
        inv = inv.ravel()
    try:
        values = [bytes(mat[i, : lens[i]]).decode("utf-8") for i in first]
    except UnicodeDecodeError:
        return None
    return Factor(values, inv.astype(np.int64))


def parse_block(
    block: bytes, width: int, wanted: dict[str, int], empty: dict[str, int], tstamp: int | None
) -> Block | None:
    """Parse whole lines (``block`` ends with a newline) of ``width`` comma-separated fields.

    ``wanted``: column name -> field index to factorise; ``empty``: name -> index to test for emptiness;
    ``tstamp``: index of the timestamp field (kept as fixed-width bytes for an order check).
    """
    raw = np.frombuffer(block, dtype=np.uint8)
    if len(raw) == 0:
        return Block(0, {k: Factor([], np.zeros(0, np.int64)) for k in wanted}, {}, None)
    if raw[-1] != 10 or (raw == 34).any():
        return None
    nl = np.flatnonzero(raw == 10)
    commas = np.flatnonzero(raw == 44)
    n = len(nl)
    if len(commas) != n * (width - 1):
        return None
    c = commas.reshape(n, width - 1)
    line_start = np.concatenate([[0], nl[:-1] + 1])
    # every line holds exactly width - 1 commas iff each line's first comma follows its start and its
    # last comma precedes its newline (the totals already agree)
    if not (np.all(c[:, 0] >= line_start) and np.all(c[:, -1] < nl)):
        return None
    buf = np.concatenate([raw, np.zeros(MAX_FIELD_BYTES + 8, dtype=np.uint8)])

    def span(k: int) -> tuple[np.ndarray, np.ndarray]:
        s = line_start if k == 0 else c[:, k - 1] + 1
        e = c[:, k] if k < width - 1 else nl - (raw[np.maximum(nl - 1, 0)] == 13)
        return s, e

    fields = {}
    for name, k in wanted.items():
        f = factorize(buf, *span(k))
        if f is None:
            return None
        fields[name] = f
    empties = {}
    for name, k in empty.items():
        s, e = span(k)
        empties[name] = e == s
    ts = None
    if tstamp is not None:
        s, e = span(tstamp)
        lens = e - s
        if n and np.all(lens == lens[0]) and 0 < lens[0] <= MAX_FIELD_BYTES:
            w = int(lens[0])
            ts = np.ascontiguousarray(_matrix(buf, s, lens, w)).view(f"S{w}").ravel()
    return Block(n, fields, empties, ts)
