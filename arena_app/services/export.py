"""Export votes to CSV or JSON Lines: streaming, atomic, FastChat-compatible names.

Columns (CSV header and JSONL keys, in this order; ``arena leaderboard fit`` reads them back):

- ``vote_id``, ``battle_id``: ids (int)
- ``tstamp``: vote time, ISO 8601 UTC with microseconds, e.g. ``2026-11-22T01:50:10.123456Z``
- ``mode``: ``anony`` (anonymous battle) or ``named`` (named side-by-side)
- ``model_a``, ``model_b``: the models on the left and right
- ``winner``: ``model_a`` | ``model_b`` | ``tie`` | ``tie (bothbad)`` (FastChat names)
- ``turn``: user turns at vote time (int)
- ``excluded_reason``: empty (CSV) / null (JSONL) when the vote counts, else why it does not
- ``judge``: salted hash of the voter's client id (never an address)
- ``tags``: battle category tags, comma-separated in CSV, a list in JSONL
- ``conversation_a``, ``conversation_b`` (only with ``with_conversations``): lists of
  ``{"role", "content"}`` of the current (non-superseded) messages; a JSON string in CSV, a list in JSONL.
  User text only ever appears inside these JSON cells, which start with ``[``, so no cell can be taken
  for a spreadsheet formula.

The file appears only when complete: rows go to a temporary file in the target directory, which is
fsynced and renamed over the target (``os.replace``). On any failure the temporary file is removed and an
existing target is left untouched.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy.orm import Session, sessionmaker

from arena_app.services.output_files import OutputPathError, atomic_text_file, check_output_path
from arena_app.storage.export_queries import (
    DEFAULT_BATCH_SIZE,
    ExportedVote,
    VoteFilter,
    count_votes,
    stream_votes,
)

COLUMNS = (
    "vote_id",
    "battle_id",
    "tstamp",
    "mode",
    "model_a",
    "model_b",
    "winner",
    "turn",
    "excluded_reason",
    "judge",
    "tags",
)
CONVERSATION_COLUMNS = ("conversation_a", "conversation_b")
MODES = ("anony", "named", "all")
FORMATS = ("csv", "jsonl")

#: progress(done, total): total is None when it was not counted
Progress = Callable[[int, int | None], None]


class ExportError(Exception):
    """The export cannot be written (bad option or output path); the message says what to fix."""


@dataclass(frozen=True)
class ExportOptions:
    since: datetime | None = None
    until: datetime | None = None
    mode: str = "all"
    include_excluded: bool = False
    fmt: str = "csv"
    with_conversations: bool = False

    def vote_filter(self) -> VoteFilter:
        if self.mode not in MODES:
            raise ExportError(f"invalid mode {self.mode!r}: expected one of {', '.join(MODES)}")
        if self.fmt not in FORMATS:
            raise ExportError(f"invalid format {self.fmt!r}: expected one of {', '.join(FORMATS)}")
        for name, value in (("since", self.since), ("until", self.until)):
            if value is not None and value.tzinfo is None:
                raise ExportError(f"--{name} must be timezone-aware")
        if self.since and self.until and self.since >= self.until:
            raise ExportError("--since must be earlier than --until")
        return VoteFilter(
            since=self.since,
            until=self.until,
            mode=None if self.mode == "all" else self.mode,
            include_excluded=self.include_excluded,
        )


def iso_utc(value: datetime) -> str:
    """``2026-11-22T01:50:10.123456Z`` (always with microseconds, so the column sorts as text)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_when(text: str, what: str = "date") -> datetime:
    """Parse ``2026-11-01`` or ``2026-11-01T12:30[:00][Z|+02:00]``; no zone means UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ExportError(
            f"invalid {what} {text!r}: expected ISO 8601 like 2026-11-01 or 2026-11-01T12:30:00Z"
        ) from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _record(vote: ExportedVote, with_conversations: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "vote_id": vote.vote_id,
        "battle_id": vote.battle_id,
        "tstamp": iso_utc(vote.tstamp),
        "mode": vote.mode,
        "model_a": vote.model_a,
        "model_b": vote.model_b,
        "winner": vote.winner,
        "turn": vote.turn,
        "excluded_reason": vote.excluded_reason,
        "judge": vote.judge,
        "tags": list(vote.tags),
    }
    if with_conversations:
        row["conversation_a"] = vote.conversation_a
        row["conversation_b"] = vote.conversation_b
    return row


class _CsvSink:
    def __init__(self, fh: IO[str], columns: tuple[str, ...]) -> None:
        self._writer = csv.writer(fh, quoting=csv.QUOTE_MINIMAL)
        self._writer.writerow(columns)
        self._columns = columns

    def write(self, row: dict[str, Any]) -> None:
        cells = []
        for col in self._columns:
            value = row[col]
            if col == "tags":
                value = ",".join(value)
            elif col in CONVERSATION_COLUMNS:
                value = json.dumps(value, ensure_ascii=False)
            cells.append("" if value is None else value)
        self._writer.writerow(cells)


class _JsonlSink:
    def __init__(self, fh: IO[str]) -> None:
        self._fh = fh

    def write(self, row: dict[str, Any]) -> None:
        self._fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def export_votes(
    factory: sessionmaker[Session],
    out: Path,
    options: ExportOptions,
    *,
    progress: Progress | None = None,
    count_total: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> int:
    """Write the votes matching ``options`` to ``out`` atomically; returns the number of rows written."""
    vote_filter = options.vote_filter()
    out = Path(out)
    try:
        check_output_path(out)
    except OutputPathError as exc:
        raise ExportError(str(exc)) from exc
    columns = COLUMNS + (CONVERSATION_COLUMNS if options.with_conversations else ())
    rows = 0
    with atomic_text_file(out) as fh:
        sink = _CsvSink(fh, columns) if options.fmt == "csv" else _JsonlSink(fh)
        with factory() as session:
            total = count_votes(session, vote_filter) if count_total else None
            if progress:
                progress(0, total)
            for vote in stream_votes(
                session, vote_filter, with_conversations=options.with_conversations, batch_size=batch_size
            ):
                sink.write(_record(vote, options.with_conversations))
                rows += 1
                if progress and rows % batch_size == 0:
                    progress(rows, total)
    if progress:
        progress(rows, rows)
    return rows
