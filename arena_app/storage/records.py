"""Plain, immutable records returned by :mod:`arena_app.storage.api`.

Callers (services, UI, leaderboard) only ever see these dataclasses, never ORM objects, so a record stays
valid after its session is closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from arena_app.domain import BattleMode, ConversationMode, ExcludedReason, FeedbackKind, Outcome


@dataclass(frozen=True, slots=True)
class StyleCounts:
    """Markdown style features of one answer (or totals over a conversation's current answers).

    ``tokens`` is the answer length used by style control; ``has_code`` is whether a code block appears.
    """

    tokens: int = 0
    headers: int = 0
    lists: int = 0
    bold: int = 0
    has_code: bool = False


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    id: int
    mode: ConversationMode
    model_name: str
    session_id: str
    client_hash: str
    params: dict[str, Any] | None
    created_at: datetime
    #: totals over current (non-superseded) answers; ``has_code`` is true if any current answer has code
    style: StyleCounts


@dataclass(frozen=True, slots=True)
class MessageRecord:
    id: int
    conversation_id: int
    position: int
    attempt: int
    role: str  # system | user | assistant
    content: str
    created_at: datetime
    finished_at: datetime | None = None
    ttft_s: float | None = None
    output_tokens: int | None = None
    finish_reason: str | None = None  # a FinishReason value, or what the provider reported
    error: str | None = None
    superseded: bool = False
    style: StyleCounts | None = None
    params: dict[str, Any] | None = None  # generation parameters of an answer


@dataclass(frozen=True, slots=True)
class BattleRecord:
    id: int
    mode: BattleMode
    model_a: str
    model_b: str
    conversation_a_id: int
    conversation_b_id: int
    session_id: str
    client_hash: str
    created_at: datetime
    turn_count: int
    regenerations: int
    tags: tuple[str, ...] = field(default=())
    sampling_weight: float = 1.0  # inverse propensity of the pair's draw (1: uniform / not sampled)


@dataclass(frozen=True, slots=True)
class VoteRecord:
    id: int
    battle_id: int
    outcome: Outcome
    turn_count: int
    excluded_reason: ExcludedReason | None
    session_id: str
    client_hash: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    id: int
    message_id: int
    kind: FeedbackKind
    session_id: str
    client_hash: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SnapshotRecord:
    id: int
    created_at: datetime
    category: str
    params: dict[str, Any]
    vote_count: int
    result: dict[str, Any]
    style_control: bool = False
    last_vote_id: int | None = None  # null on snapshots stored before it was recorded
    votes_key: str | None = None
    table_key: str | None = None
