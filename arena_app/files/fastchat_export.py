"""``arena export votes --format fastchat``: a JSON array in FastChat's clean_battle shape.

FastChat's ``elo_analysis.py`` / ``rating_systems.py`` read it unchanged with ``pd.read_json``: per vote
``question_id`` (the imported battle's own id, else ``arena-<battle_id>``), ``model_a``, ``model_b``,
``winner``, ``judge`` (our salted voter hash), ``turn``, ``anony`` (bool), ``language`` (``unknown`` when not
recorded, as FastChat's language filters expect a string), ``tstamp`` (unix seconds, float),
``conv_metadata`` (each side's ``sum_assistant_{a,b}_tokens``, ``header_count_``, ``list_count_``,
``bold_count_{a,b}`` as totals, which FastChat's style control sums the same way, and ``turns``),
``is_code`` and ``category_tag`` (``if_v0.1``, ``math_v0.1``, ``creative_writing_v0.1``) from our tags. Our
own ``vote_id``, ``battle_id``, ``excluded_reason`` and ``tags`` come along (FastChat ignores extra keys;
``arena leaderboard fit`` and ``arena import battles`` read them back). Rows are written one at a time,
so memory stays constant.
"""

from __future__ import annotations

import json
from typing import IO, Protocol

from arena_app.domain import BattleMode
from arena_app.files.export_rows import Cell, ExportVote

FASTCHAT_FORMAT = "fastchat"
IMPORT_PREFIX = "fastchat:"
STYLE_FIELDS = ("sum_assistant_{}_tokens", "header_count_{}", "list_count_{}", "bold_count_{}")
_LABELS = (("if_v0.1", "if"), ("math_v0.1", "math"), ("creative_writing_v0.1", "creative_writing"))

Style = tuple[int, int, int, int]


class FastChatVote(ExportVote, Protocol):
    """A vote with what the FastChat shape adds (the storage query's ``ExportedVote`` has these)."""

    @property
    def language(self) -> str | None: ...
    @property
    def import_key(self) -> str | None: ...
    @property
    def style_a(self) -> Style | None: ...
    @property
    def style_b(self) -> Style | None: ...


def question_id(import_key: str | None, battle_id: int) -> str:
    """FastChat's id of the battle: the one it was imported with, else one of ours."""
    if import_key and import_key.startswith(IMPORT_PREFIX):
        return import_key[len(IMPORT_PREFIX) :]
    return f"arena-{battle_id}"


def conv_metadata(style_a: Style | None, style_b: Style | None, turn: int) -> dict[str, int]:
    meta: dict[str, int] = {}
    for side, style in (("a", style_a), ("b", style_b)):
        for template, value in zip(STYLE_FIELDS, style or (0, 0, 0, 0), strict=True):
            meta[template.format(side)] = value
    meta["turns"] = turn
    return meta


def fastchat_record(vote: FastChatVote, *, with_conversations: bool) -> dict[str, object]:
    tags = list(vote.tags)
    row: dict[str, object] = {
        "question_id": question_id(vote.import_key, vote.battle_id),
        "model_a": vote.model_a,
        "model_b": vote.model_b,
        "winner": vote.winner,
        "judge": vote.judge,
        "turn": vote.turn,
        "anony": vote.mode == BattleMode.ANONY.value,
        "language": vote.language or "unknown",
        "tstamp": vote.tstamp.timestamp(),
        "conv_metadata": conv_metadata(vote.style_a, vote.style_b, vote.turn),
        "is_code": "code" in tags,
        "category_tag": {group: {label: label in tags} for group, label in _LABELS},
        "vote_id": vote.vote_id,
        "battle_id": vote.battle_id,
        "excluded_reason": vote.excluded_reason,
        "tags": tags,
    }
    if with_conversations:
        conversations: tuple[Cell, Cell] = (vote.conversation_a, vote.conversation_b)
        row["conversation_a"], row["conversation_b"] = conversations
    return row


class FastChatVoteWriter:
    """A JSON array, one element per line; :meth:`finish` closes it (an empty export is ``[]``)."""

    def __init__(self, fh: IO[str], *, with_conversations: bool) -> None:
        self._fh = fh
        self._with_conversations = with_conversations
        self._first = True
        fh.write("[")

    def write(self, vote: FastChatVote) -> None:
        row = fastchat_record(vote, with_conversations=self._with_conversations)
        self._fh.write(("\n" if self._first else ",\n") + json.dumps(row, ensure_ascii=False))
        self._first = False

    def finish(self) -> None:
        self._fh.write("]\n" if self._first else "\n]\n")
