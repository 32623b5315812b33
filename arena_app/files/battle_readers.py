"""Readers of battles files, yielding column chunks (see :mod:`arena_app.files.battle_files`).

CSV through pyarrow's reader (:mod:`arena_app.files.csv_arrow`), or the csv module when tags, languages or
prompt clusters are wanted; JSON (a FastChat clean_battle array) through orjson when installed (a gradio
dependency) else the stdlib; JSON Lines in chunks of lines parsed as one array.
"""

from __future__ import annotations

import csv
import itertools
import json
import operator
from collections.abc import Iterator, Sequence
from itertools import repeat
from pathlib import Path
from typing import cast

from arena_app.files.cell_values import whole
from arena_app.files.csv_arrow import Block, CsvLayoutError, arrow_blocks, header
from arena_app.files.fastchat_rows import fastchat_tags, style_matrix
from arena_app.files.json_pieces import JsonArrayError, NotIndented, ijson_pieces, indented_pieces

CHUNK_ROWS = 200_000
FORMATS = ("csv", "json", "jsonl")
#: per-battle ids a battles file may carry for cluster intervals and the per-judge views: the voter
#: (FastChat's ``judge``, our export's ``judge`` column) and the prompt (FastChat's ``question_id``)
CLUSTER_COLUMNS = ("judge", "question_id")

#: one column of a chunk: a value per row (strings from CSV; any JSON value from JSON files)
Column = Sequence[object]
#: a chunk of rows, column-wise by name
Columns = dict[str, Column]


class BattleFileError(ValueError):
    """The file cannot be read as battles; the message says what to fix."""


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv",):
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json":
        with path.open("rb") as fh:
            head = fh.read(4096).lstrip()
        return "json" if head.startswith(b"[") else "jsonl"
    raise BattleFileError(
        f"cannot tell the format of {path.name}: use a .csv, .json or .jsonl file (or --format)"
    )


def csv_chunks(
    path: Path, *, fast: bool, want_turn: bool = False, want_judge: bool = False
) -> Iterator[Columns | Block]:
    """Column chunks. With ``fast``, pyarrow's reader factorises every needed column
    (:mod:`arena_app.files.csv_arrow`) and each :class:`Block` comes whole; otherwise (tags, languages or
    prompt clusters wanted) the csv module yields every column of the file."""
    if fast:
        try:
            yield from arrow_blocks(path, want_turn=want_turn, want_judge=want_judge)
        except CsvLayoutError as exc:
            raise BattleFileError(str(exc)) from exc
        return
    names = header(path)
    if not names:
        return
    col = {name: i for i, name in enumerate(names)}
    missing = [c for c in ("model_a", "model_b", "winner") if c not in col]
    if missing:
        raise BattleFileError(
            f"{path.name}: CSV header lacks {', '.join(missing)} (expected our export's columns: "
            "vote_id,battle_id,tstamp,mode,model_a,model_b,winner,turn,excluded_reason,judge,tags)"
        )
    with path.open(newline="", encoding="utf-8-sig") as text:
        text.readline()
        yield from _csv_rows(path.name, csv.reader(text), col, len(names))


def _csv_rows(name: str, reader: Iterator[list[str]], col: dict[str, int], width: int) -> Iterator[Columns]:
    while True:
        rows = list(itertools.islice(reader, CHUNK_ROWS))
        if not rows:
            return
        if any(len(r) != width for r in rows):
            bad = next(r for r in rows if len(r) != width)
            raise BattleFileError(
                f"{name}: a row has {len(bad)} fields, the header {width}: {','.join(bad)[:200]}"
            )
        cols = list(zip(*rows, strict=True))
        del rows
        yield {c: cols[i] for c, i in col.items()}


_MISSING = object()


def _object_columns(values: object, where: str, want: frozenset[str] = frozenset()) -> Columns:
    """Columns of a chunk of JSON objects; every per-object step is a C-level ``map``. ``want``: derived
    columns to add: ``style`` (each row's conv_metadata totals), ``tags`` (FastChat's category fields)."""
    if not isinstance(values, list) or not all(map(isinstance, values, repeat(dict))):
        raise BattleFileError(f"{where}: every battle must be a JSON object with model_a, model_b, winner")
    objs = cast("list[dict[str, object]]", values)
    out: Columns = {}
    for k in ("model_a", "model_b", "winner"):
        col = list(map(dict.get, objs, repeat(k), repeat(_MISSING)))
        if _MISSING in col:
            o = objs[col.index(_MISSING)]
            lacking = ", ".join(r for r in ("model_a", "model_b", "winner") if r not in o)
            raise BattleFileError(f"{where}: a battle lacks {lacking}: {json.dumps(o)[:200]}")
        out[k] = col
    for k in ("anony", "mode", "excluded_reason", "tstamp", "turn", "tags", "language", *CLUSTER_COLUMNS):
        # the whole chunk (stops at the first hit, in C): files that omit null keys may name a key late
        if any(map(operator.contains, objs, repeat(k))):
            out[k] = list(map(dict.get, objs, repeat(k)))
    if "style" in want and any(map(operator.contains, objs, repeat("conv_metadata"))):
        matrix = style_matrix(list(map(dict.get, objs, repeat("conv_metadata"))))
        out["style"] = cast("Column", matrix)  # an (n, 8) array: read by StyleColumns
    if "tags" in want:
        out["tags"] = [fastchat_tags(o, whole(o.get("turn", 1))) for o in objs]
    return out


def _loads(text: str | bytes) -> object:
    """Decoded JSON (any JSON value)."""
    try:
        import orjson  # optional accelerator (a gradio dependency); stdlib json otherwise

        value: object = orjson.loads(text)
    except ImportError:
        value = json.loads(text)
    return value


JSON_BLOCK_BYTES = 32 << 20


class NotFlatJSON(Exception):
    """Streaming a JSON array this way failed part-way: read it again another way."""


class _NotFlat(Exception):
    """The array's objects nest (e.g. the conversation release): read the whole file instead."""


def _flat_array_pieces(path: Path) -> Iterator[list[object]]:
    """Stream a JSON array of *flat* objects (FastChat clean_battle rows) in ~32 MB pieces: with no nested
    objects every ``}`` ends a row, so each piece is cut after its last ``}`` and parsed as one array.
    A cut inside an object leaves it unclosed, so the piece fails to parse; that, or nested objects in the
    first rows, raises :class:`_NotFlat`."""
    with path.open("rb") as fh:
        rest = b""
        first = True
        while True:
            data = fh.read(JSON_BLOCK_BYTES)
            buf = rest + data
            end = buf.rfind(b"}") + 1
            piece, rest = (buf[:end], buf[end:]) if data else (buf, b"")
            piece = piece.strip()
            if first:
                if not piece.startswith(b"["):
                    raise _NotFlat
                piece = piece[1:].lstrip()
                first = False
            piece = piece.lstrip(b",").strip()
            if not data:
                if not piece.endswith(b"]"):
                    raise _NotFlat
                piece = piece[:-1].rstrip()
            if piece:
                try:
                    objs = _loads(b"[" + piece + b"]")
                except ValueError:
                    raise _NotFlat from None
                assert isinstance(objs, list)  # the piece was wrapped in [ ]
                if any(isinstance(v, dict) for o in objs[:100] if isinstance(o, dict) for v in o.values()):
                    raise _NotFlat
                yield objs
            if not data:
                return


def json_chunks(path: Path, *, how: str = "flat", want: frozenset[str] = frozenset()) -> Iterator[Columns]:
    """A JSON array of battles in bounded memory, ``how``: ``flat`` (flat objects, cut at ``}``),
    ``indented`` (FastChat's indent=2 layout, nested objects: :mod:`arena_app.files.json_pieces`) or
    ``ijson`` (any layout). The first two raise :class:`NotFlatJSON`, possibly after some chunks, when the
    file does not allow them: the caller then starts over with the next."""
    try:
        if how == "flat":
            pieces: Iterator[list[object]] = _flat_array_pieces(path)
        elif how == "indented":
            pieces = indented_pieces(path)
        else:
            pieces = ijson_pieces(path)
        for objs in pieces:
            yield _object_columns(objs, path.name, want)
    except (_NotFlat, NotIndented):
        raise NotFlatJSON(path.name) from None
    except JsonArrayError as exc:
        raise BattleFileError(str(exc)) from exc
    except UnicodeDecodeError as exc:
        raise BattleFileError(f"{path.name}: not UTF-8 text ({exc.reason})") from exc


def jsonl_chunks(path: Path, want: frozenset[str] = frozenset()) -> Iterator[Columns]:
    with path.open("rb") as fh:
        line_no = 0  # lines read before this chunk, blank ones included (error messages cite file lines)
        while True:
            raw = list(itertools.islice(fh, CHUNK_ROWS))
            if not raw:
                return
            lines = [ln for ln in raw if ln.strip()]
            if lines:
                objs: object
                try:
                    objs = _loads(b"[" + b",".join(lines) + b"]")
                except ValueError:
                    objs = parsed = []
                    for i, ln in enumerate(raw):
                        if not ln.strip():
                            continue
                        try:
                            parsed.append(_loads(ln))
                        except ValueError as exc:
                            raise BattleFileError(
                                f"{path.name}: line {line_no + i + 1} is not JSON ({exc})"
                            ) from exc
                yield _object_columns(objs, path.name, want)
            line_no += len(raw)
