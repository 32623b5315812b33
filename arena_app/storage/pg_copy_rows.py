"""Read a SELECT of int4 columns from PostgreSQL as ``COPY (...) TO STDOUT (FORMAT BINARY)`` into numpy.

Binary COPY (PostgreSQL docs, "COPY", Binary Format): an 11-byte signature ``PGCOPY\\n\\377\\r\\n\\0``, an
int32 flags field, an int32 header-extension length and that many bytes; then per row an int16 field
count and per field an int32 byte length (-1 for NULL) followed by the value (int4: 4 bytes); an int16 -1
trailer. Everything is big-endian. With only non-NULL int4 columns every row has the same size, so a block
of rows is one ``np.frombuffer`` on a structured dtype; the field counts and lengths are checked, not
assumed. This avoids a Python tuple (and a str per text column) per row: for a million leaderboard rows
the text-protocol fetch spends seconds on exactly that.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_HEADER_FIXED = len(SIGNATURE) + 8  # signature, flags, extension length
_TRAILER = b"\xff\xff"
_BLOCK_BYTES = 8 << 20  # parse whenever this much arrived: bounded memory, few numpy calls


class CopyFormatError(RuntimeError):
    """The COPY stream is not the fixed int4 layout the query promised (a NULL, another type)."""


def row_dtype(ncols: int) -> np.dtype:
    fields: list[tuple[str, str]] = [("nfields", ">i2")]
    for k in range(ncols):
        fields += [(f"len{k}", ">i4"), (f"v{k}", ">i4")]
    return np.dtype(fields)


def parse_rows(buf: bytes | bytearray | memoryview, ncols: int) -> np.ndarray:
    """Whole rows in ``buf`` (no header or trailer) as an ``(n, ncols)`` int32 array."""
    dt = row_dtype(ncols)
    rows = np.frombuffer(buf, dtype=dt)
    if len(rows) == 0:
        return np.zeros((0, ncols), dtype=np.int32)
    if (rows["nfields"] != ncols).any():
        raise CopyFormatError(f"COPY row with a field count other than {ncols}")
    out = np.empty((len(rows), ncols), dtype=np.int32)
    for k in range(ncols):
        if (rows[f"len{k}"] != 4).any():
            raise CopyFormatError(f"COPY column {k} is NULL or not int4 in some row")
        out[:, k] = rows[f"v{k}"]
    return out


def _header_size(buf: bytearray) -> int | None:
    """Size of the file header once enough bytes arrived (None before), after checking it."""
    if len(buf) < _HEADER_FIXED:
        return None
    if bytes(buf[: len(SIGNATURE)]) != SIGNATURE:
        raise CopyFormatError("not a PostgreSQL binary COPY stream (bad signature)")
    flags = int.from_bytes(buf[len(SIGNATURE) : len(SIGNATURE) + 4], "big")
    if flags >> 16:  # bit 16: OIDs included; 17-31: critical flags a reader must not ignore
        raise CopyFormatError(f"unsupported binary COPY flags {flags:#x}")
    ext = int.from_bytes(buf[len(SIGNATURE) + 4 : _HEADER_FIXED], "big")
    return _HEADER_FIXED + ext if len(buf) >= _HEADER_FIXED + ext else None


def copy_int4_columns(
    s: Session, stmt: Any, ncols: int, *, settings: Mapping[str, str] | None = None
) -> np.ndarray:
    """Run ``stmt`` (a SQLAlchemy SELECT of ``ncols`` non-NULL int4 columns) as a binary COPY on the
    session's connection (same transaction) and return its rows, in order, as ``(n, ncols)`` int32.

    Parameters are bound by psycopg (client-side quoting, as for any COPY), never pasted as text.
    ``settings`` (e.g. ``work_mem``) apply to this statement only: set transaction-locally before it and
    put back after it (a failure aborts the transaction, which drops them anyway).
    """
    old = {k: s.execute(text("SELECT current_setting(:k)"), {"k": k}).scalar_one() for k in settings or {}}
    _set_local(s, settings or {})
    out = _copy(s, stmt, ncols)
    _set_local(s, old)
    return out


def _set_local(s: Session, settings: Mapping[str, str]) -> None:
    for k, v in settings.items():
        s.execute(text("SELECT set_config(:k, :v, true)"), {"k": k, "v": v})


def _copy(s: Session, stmt: Any, ncols: int) -> np.ndarray:
    conn = s.connection()
    compiled = stmt.compile(dialect=conn.dialect)
    params = compiled.construct_params()
    raw = conn.connection.driver_connection
    assert raw is not None
    row_size = row_dtype(ncols).itemsize
    sql = f"COPY ({compiled}) TO STDOUT (FORMAT BINARY)"
    parts: list[np.ndarray] = []
    buf = bytearray()
    start: int | None = None
    with raw.cursor() as cur, cur.copy(sql, params or None) as copy:
        for chunk in copy:
            buf += chunk
            if len(buf) < _BLOCK_BYTES:
                continue
            if start is None:
                start = _header_size(buf)
                if start is None:
                    continue
                del buf[:start]
            whole = len(buf) // row_size * row_size
            parts.append(parse_rows(memoryview(buf)[:whole], ncols))
            del buf[:whole]
    if start is None:
        start = _header_size(buf)
        if start is None:
            raise CopyFormatError("binary COPY stream ended inside its header")
        del buf[:start]
    if bytes(buf[-2:]) != _TRAILER or (len(buf) - 2) % row_size:
        raise CopyFormatError(
            "binary COPY stream is not whole int4 rows and the -1 trailer (a NULL or non-int4 column?)"
        )
    parts.append(parse_rows(memoryview(buf)[: len(buf) - 2], ncols))
    return np.concatenate(parts) if len(parts) > 1 else parts[0]
