"""Battles CSV files of any column layout through pyarrow's streaming CSV reader, for ``arena leaderboard
fit``: our export (``vote_id,battle_id,tstamp,mode,...``), FastChat-style columns
(``model_a,model_b,winner,tstamp[,anony,judge,turn]``) or any order of them.

pyarrow parses record batches of ``BLOCK_BYTES`` on its own threads (quoting included); each needed
column is *factorised* in C++ (``dictionary_encode``: distinct values + one code per row), so only the
distinct values (a few hundred model names, four winners, ...) ever become Python strings. Timestamps are
converted to unix seconds as pyarrow infers them (ISO 8601 from our export, numbers from FastChat's), so a
file out of time order is sorted in memory instead of being read again.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from numpy.typing import NDArray

from arena_app.files.cell_values import seconds

BLOCK_BYTES = 16 << 20
#: columns read when present (``anony`` is FastChat's name for our ``mode``)
COLUMNS = ("mode", "anony", "model_a", "model_b", "winner", "turn", "excluded_reason", "tstamp", "judge")
REQUIRED = ("model_a", "model_b", "winner")


class CsvLayoutError(ValueError):
    """The CSV cannot be read as battles; the message says what to fix."""


@dataclass(frozen=True)
class Factor:
    values: list[str]
    codes: NDArray[np.int64]  # per row, index into values


@dataclass(frozen=True)
class Block:
    n: int
    fields: dict[str, Factor]  # by our column name (FastChat's ``anony`` comes as ``mode``)
    empty: dict[str, NDArray[np.bool_]]  # per "empty test" column: True where the cell is empty
    seconds: NDArray[np.float64] | None  # unix seconds per row (NaN where unparseable); None: no tstamp


def header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        first = next(csv.reader(fh), [])
    return [name.strip() for name in first]


def _factor(column: pa.ChunkedArray | pa.Array) -> Factor:
    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return Factor([str(v) for v in encoded.dictionary.to_pylist()], codes)


def _seconds(column: pa.Array | pa.ChunkedArray) -> NDArray[np.float64]:
    kind = column.type
    if pa.types.is_timestamp(kind):
        per_second = {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}[kind.unit]
        ints = pc.cast(column, pa.int64()).to_numpy(zero_copy_only=False)
        return np.asarray(ints, dtype=np.float64) / per_second
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    values = column.to_pylist()  # mixed or odd spellings: parsed one by one, like the JSON readers
    return np.fromiter(map(seconds, values), dtype=np.float64, count=len(values))


def arrow_blocks(path: Path, *, want_turn: bool = False, want_judge: bool = False) -> Iterator[Block]:
    """The file's rows as factorised :class:`Block` s (see the module docstring)."""
    names = header(path)
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise CsvLayoutError(
            f"{path.name}: CSV header lacks {', '.join(missing)} (expected our export's columns "
            "vote_id,battle_id,tstamp,mode,model_a,model_b,winner,turn,excluded_reason,judge,tags, or "
            "FastChat's model_a,model_b,winner,tstamp,...)"
        )
    if want_judge and "judge" not in names:
        raise CsvLayoutError(f"{path.name}: no 'judge' column")
    wanted = [
        c for c in COLUMNS if c in names and (c != "turn" or want_turn) and (c != "judge" or want_judge)
    ]
    convert = pa_csv.ConvertOptions(
        include_columns=wanted,
        column_types={c: pa.string() for c in wanted if c != "tstamp"},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    read = pa_csv.ReadOptions(block_size=BLOCK_BYTES, use_threads=True)
    try:
        reader = pa_csv.open_csv(path, read_options=read, convert_options=convert)
        for batch in reader:
            yield _block(batch)
    except pa.ArrowInvalid as exc:
        raise CsvLayoutError(f"{path.name}: {str(exc).splitlines()[0]}"[:300]) from exc


def _block(batch: pa.RecordBatch) -> Block:
    present = set(batch.schema.names)
    fields = {
        ("mode" if name == "anony" else name): _factor(batch.column(name))
        for name in present
        if name not in ("tstamp", "excluded_reason")
    }
    empty = {}
    if "excluded_reason" in present:
        lengths = pc.utf8_length(batch.column("excluded_reason")).to_numpy(zero_copy_only=False)
        empty["excluded_reason"] = np.asarray(lengths == 0)
    stamps = _seconds(batch.column("tstamp")) if "tstamp" in present else None
    return Block(batch.num_rows, fields, empty, stamps)
