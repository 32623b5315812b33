"""Stream a JSON array of nested objects (FastChat's clean_battle files, ``conv_metadata`` and
``category_tag`` included) in bounded memory, for ``arena leaderboard fit``.

FastChat writes the array with ``json.dump(..., indent=2)``: each element then ends with a newline, the
element indentation and ``}``. A raw newline cannot occur inside a JSON string, and deeper objects close
further right, so that marker ends exactly the top-level elements (with one compact element per line, as
``arena export votes --format fastchat`` writes, ``},`` before a newline does): pieces of
~``PIECE_BYTES`` cut after the last marker are parsed by orjson as arrays. A piece that does not parse
(another layout, or an invalid file) raises :class:`NotIndented`, and the caller reads the file again
with :func:`ijson_pieces` (ijson's incremental C parser: any layout, slower, precise errors).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import ijson
import orjson

PIECE_BYTES = 32 << 20
ROWS = 200_000


class NotIndented(Exception):
    """The array is not laid out one indented element after another: read it with ijson instead."""


class JsonArrayError(ValueError):
    """The file is not a JSON array of objects; the message says where it broke."""


def _indent(head: bytes) -> bytes:
    """The indentation of the first element (``b"  "`` for indent=2), from the file's first bytes."""
    start = head.find(b"[")
    brace = head.find(b"{", start + 1)
    if start < 0 or brace < 0 or head[start + 1 : brace].strip():
        raise NotIndented
    newline = head.rfind(b"\n", 0, brace)
    if newline < start:
        raise NotIndented  # "[{" on one line: a compact array
    return head[newline + 1 : brace]


def indented_pieces(path: Path) -> Iterator[list[object]]:
    """The elements of an indented JSON array, a piece (a list of objects) at a time."""
    with path.open("rb") as fh:
        indent = _indent(fh.read(1 << 16))
        # one element per line (our --format fastchat export): "}," then a newline ends an element
        marker, keep = (b"\n" + indent + b"}", len(indent) + 2) if indent else (b"},\n", 1)
        fh.seek(0)
        rest, first = b"", True
        while True:
            data = fh.read(PIECE_BYTES)
            buf = rest + data
            found = buf.rfind(marker)
            end = found + keep if data else len(buf)
            if data and found < 0:  # no element ends in this piece yet: read on
                rest = buf
                continue
            piece, rest = buf[:end].strip(), buf[end:]
            if first:
                piece, first = piece[1:], False  # the array's "["
            piece = piece.lstrip(b", \n\r\t")
            if not data:
                if not piece.endswith(b"]"):
                    raise NotIndented
                piece = piece[:-1]
            if piece.strip():
                try:
                    objs = orjson.loads(b"[" + piece + b"]")
                except orjson.JSONDecodeError:
                    raise NotIndented from None
                yield objs
            if not data:
                return


def ijson_pieces(path: Path) -> Iterator[list[object]]:
    """The elements of any JSON array, ``ROWS`` at a time (ijson); :class:`JsonArrayError` says where
    the file broke."""
    index = 0
    with path.open("rb") as fh:
        items = ijson.items(fh, "item", use_float=True)
        try:
            while True:
                chunk = list(itertools.islice(items, ROWS))
                if not chunk:
                    return
                index += len(chunk)
                yield chunk
        except ijson.common.IncompleteJSONError as exc:
            raise JsonArrayError(f"{path.name}: not valid JSON after element {index} ({exc})"[:300]) from exc
