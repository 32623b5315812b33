"""Streaming query behind ``arena export votes``.

Votes are read in vote-id order with ``yield_per`` (a server-side cursor on PostgreSQL, incremental fetches
on SQLite), so memory stays constant however many votes there are. Per batch of votes, one query fetches
their battles' tags and, if asked, one query their conversations' current (non-superseded) messages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from arena_app.storage.models import Battle, BattleTag, Conversation, Message, Vote

DEFAULT_BATCH_SIZE = 2000

_Stmt = TypeVar("_Stmt", bound="Select[*tuple[Any, ...]]")  # any SELECT


@dataclass(frozen=True, slots=True)
class VoteFilter:
    """``since`` inclusive, ``until`` exclusive (vote time, timezone-aware); ``mode`` None means all."""

    since: datetime | None = None
    until: datetime | None = None
    mode: str | None = None
    include_excluded: bool = False


class ExportedVote(NamedTuple):
    """One exported vote (a NamedTuple: cheap to build for millions of rows)."""

    vote_id: int
    battle_id: int
    tstamp: datetime
    mode: str
    model_a: str
    model_b: str
    winner: str
    turn: int
    excluded_reason: str | None
    judge: str
    tags: tuple[str, ...]
    conversation_a: list[dict[str, str]] | None = None
    conversation_b: list[dict[str, str]] | None = None
    language: str | None = None
    import_key: str | None = None  # set on imported battles (e.g. fastchat:<question_id>)
    style_a: tuple[int, int, int, int] | None = None  # with_style: tokens, headers, lists, bold of side a
    style_b: tuple[int, int, int, int] | None = None


def _filtered(stmt: _Stmt, f: VoteFilter) -> _Stmt:
    stmt = stmt.join(Battle, Battle.id == Vote.battle_id)
    if f.since is not None:
        stmt = stmt.where(Vote.created_at >= f.since)
    if f.until is not None:
        stmt = stmt.where(Vote.created_at < f.until)
    if f.mode is not None:
        stmt = stmt.where(Battle.mode == f.mode)
    if not f.include_excluded:
        stmt = stmt.where(Vote.excluded_reason.is_(None))
    return stmt


def count_votes(s: Session, f: VoteFilter) -> int:
    return int(s.scalar(_filtered(select(func.count(Vote.id)), f)) or 0)


def _tags(s: Session, battle_ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    rows = s.execute(
        select(BattleTag.battle_id, BattleTag.tag)
        .where(BattleTag.battle_id.in_(battle_ids))
        .order_by(BattleTag.battle_id, BattleTag.tag)
    )
    for battle_id, tag in rows:
        out[battle_id].append(tag)
    return out


def _conversations(s: Session, conversation_ids: Sequence[int]) -> dict[int, list[dict[str, str]]]:
    out: dict[int, list[dict[str, str]]] = defaultdict(list)
    rows = s.execute(
        select(Message.conversation_id, Message.role, Message.content)
        .where(Message.conversation_id.in_(conversation_ids), Message.superseded.is_(False))
        .order_by(Message.conversation_id, Message.position, Message.attempt)
    )
    for conversation_id, role, content in rows:
        out[conversation_id].append({"role": role, "content": content})
    return out


_CONV_A = aliased(Conversation)
_CONV_B = aliased(Conversation)
_STYLE_COLUMNS = ("answer_tokens", "header_count", "list_count", "bold_count")


def stream_votes(
    s: Session,
    f: VoteFilter,
    *,
    with_conversations: bool = False,
    with_style: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Iterator[ExportedVote]:
    """Yield the matching votes in vote-id order, ``batch_size`` rows in memory at a time. ``with_style``:
    also each side's style totals (its conversation's answer tokens, headers, list items, bold spans)."""
    style_cols = [
        getattr(conv, c).label(f"{side}_{c}")
        for side, conv in (("a", _CONV_A), ("b", _CONV_B))
        for c in _STYLE_COLUMNS
    ]
    stmt = _filtered(
        select(
            Vote.id,
            Vote.battle_id,
            Vote.created_at,
            Battle.mode,
            Battle.model_a,
            Battle.model_b,
            Vote.outcome,
            Vote.turn_count,
            Vote.excluded_reason,
            Vote.client_hash,
            Battle.conversation_a_id,
            Battle.conversation_b_id,
            Battle.language,
            Battle.import_key,
            *(style_cols if with_style else ()),
        ),
        f,
    )
    if with_style:
        stmt = stmt.join(_CONV_A, _CONV_A.id == Battle.conversation_a_id).join(
            _CONV_B, _CONV_B.id == Battle.conversation_b_id
        )
    stmt = stmt.order_by(Vote.id)
    result = s.execute(stmt, execution_options={"yield_per": batch_size, "stream_results": True})
    try:
        for batch in result.partitions():
            tags = _tags(s, [row.battle_id for row in batch])
            convs: dict[int, list[dict[str, str]]] = {}
            if with_conversations:
                ids = [row.conversation_a_id for row in batch] + [row.conversation_b_id for row in batch]
                convs = _conversations(s, ids)
            for row in batch:
                yield ExportedVote(
                    vote_id=row.id,
                    battle_id=row.battle_id,
                    tstamp=row.created_at,
                    mode=row.mode,
                    model_a=row.model_a,
                    model_b=row.model_b,
                    winner=row.outcome,
                    turn=row.turn_count,
                    excluded_reason=row.excluded_reason,
                    judge=row.client_hash,
                    tags=tuple(tags.get(row.battle_id, ())),
                    conversation_a=convs.get(row.conversation_a_id, []) if with_conversations else None,
                    conversation_b=convs.get(row.conversation_b_id, []) if with_conversations else None,
                    language=row.language,
                    import_key=row.import_key,
                    style_a=_style(row, "a") if with_style else None,
                    style_b=_style(row, "b") if with_style else None,
                )
    finally:
        result.close()


def _style(row: Any, side: str) -> tuple[int, int, int, int]:
    tokens, headers, lists, bold = (int(getattr(row, f"{side}_{c}") or 0) for c in _STYLE_COLUMNS)
    return (tokens, headers, lists, bold)
