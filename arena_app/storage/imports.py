"""Bulk insert of imported battles (``arena import``): conversations, battle, vote, tags and messages.

Each battle carries an import key (``battles.import_key``, unique): a batch first looks its keys up and
skips those already stored (and repeats within the batch), so importing a file twice adds nothing. A batch
is inserted with executemany ``INSERT ... RETURNING`` (SQLAlchemy's insertmanyvalues, in parameter order),
a handful of statements per batch whatever its size. The caller owns the transaction (one per batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from arena_app.domain import OUTCOME_NAMES, BattleMode
from arena_app.storage.errors import InvalidInputError
from arena_app.storage.models import Battle, BattleTag, Conversation, Message, Vote

IMPORT_SESSION = "import"  # session_id of imported rows (they had no session of ours)

#: style totals of one side: answer tokens, headers, list items, bold spans
Style = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class ImportBattle:
    """One battle with its vote, as an import stores it."""

    key: str
    mode: str
    model_a: str
    model_b: str
    outcome: str
    client_hash: str
    turn_count: int
    created_at: datetime  # timezone-aware
    language: str | None = None
    tags: tuple[str, ...] = ()
    style_a: Style | None = None
    style_b: Style | None = None
    messages_a: tuple[tuple[str, str], ...] = ()
    messages_b: tuple[tuple[str, str], ...] = ()
    excluded_reason: str | None = None
    has_code_a: bool = False
    has_code_b: bool = False


def existing_keys(s: Session, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` are stored already."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):  # keeps the IN list within every backend's parameter limit
        chunk = keys[start : start + 500]
        found.update(k for k in s.scalars(select(Battle.import_key).where(Battle.import_key.in_(chunk))) if k)
    return found


def _check(b: ImportBattle) -> None:
    if b.outcome not in OUTCOME_NAMES:
        raise InvalidInputError(f"outcome {b.outcome!r} is not one of {', '.join(OUTCOME_NAMES)}")
    if b.mode not in (BattleMode.ANONY.value, BattleMode.NAMED.value):
        raise InvalidInputError(f"mode {b.mode!r} is not anony or named")
    if b.created_at.tzinfo is None:
        raise InvalidInputError("created_at must be timezone-aware")


def _conversation(b: ImportBattle, side: str) -> dict[str, Any]:
    style = b.style_a if side == "a" else b.style_b
    tokens, headers, lists, bold = style or (0, 0, 0, 0)
    return {
        "mode": b.mode,
        "model_name": b.model_a if side == "a" else b.model_b,
        "session_id": IMPORT_SESSION,
        "client_hash": b.client_hash,
        "params": None,
        "created_at": b.created_at,
        "answer_tokens": tokens,
        "header_count": headers,
        "list_count": lists,
        "bold_count": bold,
        "has_code": b.has_code_a if side == "a" else b.has_code_b,
    }


def insert_battles(s: Session, battles: Sequence[ImportBattle]) -> list[ImportBattle]:
    """Insert the battles whose keys are not stored yet; returns those inserted (in input order)."""
    for b in battles:
        _check(b)
    stored = existing_keys(s, [b.key for b in battles])
    fresh: list[ImportBattle] = []
    for b in battles:
        if b.key not in stored:
            stored.add(b.key)
            fresh.append(b)
    if not fresh:
        return []
    conv_rows = [_conversation(b, side) for b in fresh for side in ("a", "b")]
    conv_ids = list(
        s.scalars(insert(Conversation).returning(Conversation.id, sort_by_parameter_order=True), conv_rows)
    )
    battle_rows = [
        {
            "mode": b.mode,
            "model_a": b.model_a,
            "model_b": b.model_b,
            "conversation_a_id": conv_ids[2 * i],
            "conversation_b_id": conv_ids[2 * i + 1],
            "session_id": IMPORT_SESSION,
            "client_hash": b.client_hash,
            "created_at": b.created_at,
            "turn_count": b.turn_count,
            "regenerations": 0,
            "sampling_weight": 1.0,
            "import_key": b.key,
            "language": b.language,
        }
        for i, b in enumerate(fresh)
    ]
    battle_ids = list(
        s.scalars(insert(Battle).returning(Battle.id, sort_by_parameter_order=True), battle_rows)
    )
    s.execute(
        insert(Vote),
        [
            {
                "battle_id": battle_ids[i],
                "outcome": b.outcome,
                "turn_count": b.turn_count,
                "excluded_reason": b.excluded_reason,
                "session_id": IMPORT_SESSION,
                "client_hash": b.client_hash,
                "created_at": b.created_at,
            }
            for i, b in enumerate(fresh)
        ],
    )
    tags = [{"battle_id": battle_ids[i], "tag": t} for i, b in enumerate(fresh) for t in sorted(set(b.tags))]
    if tags:
        s.execute(insert(BattleTag), tags)
    messages = [
        _message(conv_ids[2 * i + k], position, role, content, b)
        for i, b in enumerate(fresh)
        for k, msgs in enumerate((b.messages_a, b.messages_b))
        for position, (role, content) in enumerate(msgs)
    ]
    if messages:
        s.execute(insert(Message), messages)
    return fresh


def _message(conversation_id: int, position: int, role: str, content: str, b: ImportBattle) -> dict[str, Any]:
    return {
        "conversation_id": conversation_id,
        "position": position,
        "attempt": 0,
        "superseded": False,
        "role": role,
        "content": content,
        "created_at": b.created_at,
        "finished_at": b.created_at if role == "assistant" else None,
        "finish_reason": "stop" if role == "assistant" else None,
    }
