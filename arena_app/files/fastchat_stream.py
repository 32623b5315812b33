"""Stream the rows of a FastChat battles file one at a time, in bounded memory, each with its position.

A JSON array (``clean_battle_*.json``, whatever its indentation) is read by ijson's C parser element by
element; JSON Lines one line at a time with orjson. Each row comes as ``(where, value)``: ``where`` is
``"index N"`` (0-based array element) or ``"line N"`` (1-based file line), what an error report cites. A
JSON Lines line that is not JSON comes as a :class:`~arena_app.files.fastchat_rows.RowProblem` value (the
other lines still count); a JSON array that breaks off stops the stream with :class:`BattleFileError`
naming the element after which it broke (nothing after it can be located).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ijson
import orjson

from arena_app.files.battle_readers import BattleFileError, detect_format
from arena_app.files.fastchat_rows import RowProblem

__all__ = ["BattleFileError", "stream_rows"]

Row = tuple[str, object]


def stream_rows(path: Path, fmt: str | None = None) -> Iterator[Row]:
    """Every row of a JSON array or JSON Lines file, as ``(where, value)``."""
    path = Path(path)
    if not path.is_file():
        raise BattleFileError(f"no such file: {path}")
    fmt = fmt or detect_format(path)
    if fmt == "json":
        yield from _array_rows(path)
    elif fmt == "jsonl":
        yield from _line_rows(path)
    else:
        raise BattleFileError(f"{path.name}: import reads JSON arrays or JSON Lines, not {fmt}")


def _array_rows(path: Path) -> Iterator[Row]:
    index = -1
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip()
        fh.seek(0)
        if head and not head.startswith(b"["):
            raise BattleFileError(
                f"{path.name}: expected a JSON array of battles (FastChat clean_battle format)"
            )
        try:
            for index, value in enumerate(ijson.items(fh, "item", use_float=True)):
                yield f"index {index}", value
        except ijson.common.IncompleteJSONError as exc:
            after = f"after element {index}" if index >= 0 else "before its first element"
            raise BattleFileError(f"{path.name}: not valid JSON {after} ({exc})"[:300]) from exc
        except UnicodeDecodeError as exc:
            raise BattleFileError(f"{path.name}: not UTF-8 text ({exc.reason})") from exc


def _line_rows(path: Path) -> Iterator[Row]:
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                value: object = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                value = RowProblem(f"not JSON ({exc})"[:200])
            yield f"line {number}", value
