"""Row writers of the vote export: one vote -> one CSV row or one JSON Lines object, FastChat names.

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
- ``conversation_a``, ``conversation_b`` (only with conversations): lists of ``{"role", "content"}`` of the
  current (non-superseded) messages; a JSON string in CSV, a list in JSONL. User text only ever appears
  inside these JSON cells, which start with ``[``, so no cell can be taken for a spreadsheet formula.

The export workflow (options, the query, the atomic file) is :mod:`arena_app.services.export`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import IO, Protocol

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
FORMATS = ("csv", "jsonl")

#: one cell of an exported row (before CSV/JSON encoding)
Cell = int | str | None | list[str] | list[dict[str, str]]
Conversation = list[dict[str, str]]


class ExportVote(Protocol):
    """What the writers need of one vote (the storage query's ``ExportedVote`` has these fields)."""

    @property
    def vote_id(self) -> int: ...
    @property
    def battle_id(self) -> int: ...
    @property
    def tstamp(self) -> datetime: ...
    @property
    def mode(self) -> str: ...
    @property
    def model_a(self) -> str: ...
    @property
    def model_b(self) -> str: ...
    @property
    def winner(self) -> str: ...
    @property
    def turn(self) -> int: ...
    @property
    def excluded_reason(self) -> str | None: ...
    @property
    def judge(self) -> str: ...
    @property
    def tags(self) -> Sequence[str]: ...
    @property
    def conversation_a(self) -> Conversation | None: ...
    @property
    def conversation_b(self) -> Conversation | None: ...


def iso_utc(value: datetime) -> str:
    """``2026-11-22T01:50:10.123456Z`` (always with microseconds, so the column sorts as text)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def export_record(vote: ExportVote, with_conversations: bool) -> dict[str, Cell]:
    """The row of one vote, keyed by column (the JSON Lines object; CSV encodes some cells)."""
    row: dict[str, Cell] = {
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


class VoteWriter(Protocol):
    def write(self, vote: ExportVote) -> None: ...


class CsvVoteWriter:
    """CSV with a header row; tags comma-joined, conversations as JSON text, None as an empty cell."""

    def __init__(self, fh: IO[str], *, with_conversations: bool) -> None:
        self._columns = COLUMNS + (CONVERSATION_COLUMNS if with_conversations else ())
        self._with_conversations = with_conversations
        self._writer = csv.writer(fh, quoting=csv.QUOTE_MINIMAL)
        self._writer.writerow(self._columns)

    def write(self, vote: ExportVote) -> None:
        row = export_record(vote, self._with_conversations)
        cells: list[object] = []
        for col in self._columns:
            value = row[col]
            if col == "tags":
                assert isinstance(value, list)
                value = ",".join(str(tag) for tag in value)
            elif col in CONVERSATION_COLUMNS:
                value = json.dumps(value, ensure_ascii=False)
            cells.append("" if value is None else value)
        self._writer.writerow(cells)


class JsonlVoteWriter:
    """One JSON object per line, keys in column order."""

    def __init__(self, fh: IO[str], *, with_conversations: bool) -> None:
        self._fh = fh
        self._with_conversations = with_conversations

    def write(self, vote: ExportVote) -> None:
        self._fh.write(json.dumps(export_record(vote, self._with_conversations), ensure_ascii=False) + "\n")


def vote_writer(fh: IO[str], fmt: str, *, with_conversations: bool) -> VoteWriter:
    """The writer for ``fmt`` (``csv`` or ``jsonl``; the CSV header is written at once)."""
    if fmt == "csv":
        return CsvVoteWriter(fh, with_conversations=with_conversations)
    if fmt == "jsonl":
        return JsonlVoteWriter(fh, with_conversations=with_conversations)
    raise ValueError(f"invalid format {fmt!r}: expected one of {', '.join(FORMATS)}")
