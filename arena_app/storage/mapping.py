"""ORM rows -> the plain records of :mod:`arena_app.storage.records` (internal to ``storage/``)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena_app.domain import BattleMode, ConversationMode, ExcludedReason, Outcome
from arena_app.storage.models import Battle, BattleTag, Conversation, LeaderboardSnapshot, Message, Vote
from arena_app.storage.records import (
    BattleRecord,
    ConversationRecord,
    MessageRecord,
    SnapshotRecord,
    StyleCounts,
    VoteRecord,
)


def conversation_record(row: Conversation) -> ConversationRecord:
    return ConversationRecord(
        id=row.id,
        mode=ConversationMode(row.mode),
        model_name=row.model_name,
        session_id=row.session_id,
        client_hash=row.client_hash,
        params=row.params,
        created_at=row.created_at,
        style=StyleCounts(
            tokens=row.answer_tokens,
            headers=row.header_count,
            lists=row.list_count,
            bold=row.bold_count,
            has_code=bool(row.has_code),
        ),
    )


def message_record(row: Message) -> MessageRecord:
    style = None
    if row.answer_tokens is not None:
        style = StyleCounts(
            tokens=row.answer_tokens,
            headers=row.header_count or 0,
            lists=row.list_count or 0,
            bold=row.bold_count or 0,
            has_code=bool(row.has_code),
        )
    return MessageRecord(
        id=row.id,
        conversation_id=row.conversation_id,
        position=row.position,
        attempt=row.attempt,
        role=row.role,
        content=row.content,
        created_at=row.created_at,
        finished_at=row.finished_at,
        ttft_s=row.ttft_s,
        output_tokens=row.output_tokens,
        finish_reason=row.finish_reason,
        error=row.error,
        superseded=bool(row.superseded),
        style=style,
        params=row.params,
    )


def battle_record(s: Session, row: Battle, tags: Iterable[str] | None = None) -> BattleRecord:
    """``tags``: the battle's tags when the caller knows them (default: read them)."""
    if tags is None:
        tags = s.scalars(select(BattleTag.tag).where(BattleTag.battle_id == row.id).order_by(BattleTag.tag))
    return BattleRecord(
        id=row.id,
        mode=BattleMode(row.mode),
        model_a=row.model_a,
        model_b=row.model_b,
        conversation_a_id=row.conversation_a_id,
        conversation_b_id=row.conversation_b_id,
        session_id=row.session_id,
        client_hash=row.client_hash,
        created_at=row.created_at,
        turn_count=row.turn_count,
        regenerations=row.regenerations,
        tags=tuple(tags),
        sampling_weight=row.sampling_weight,
    )


def vote_record(row: Vote) -> VoteRecord:
    return VoteRecord(
        id=row.id,
        battle_id=row.battle_id,
        outcome=Outcome(row.outcome),
        turn_count=row.turn_count,
        excluded_reason=None if row.excluded_reason is None else ExcludedReason(row.excluded_reason),
        session_id=row.session_id,
        client_hash=row.client_hash,
        created_at=row.created_at,
    )


def snapshot_record(row: LeaderboardSnapshot) -> SnapshotRecord:
    return SnapshotRecord(
        id=row.id,
        created_at=row.created_at,
        category=row.category,
        params=row.params,
        vote_count=row.vote_count,
        result=row.result,
        style_control=row.style_control,
        last_vote_id=row.last_vote_id,
        votes_key=row.votes_key,
        table_key=row.table_key,
    )
