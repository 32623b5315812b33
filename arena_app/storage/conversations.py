"""Conversations and messages (part of the storage API; import them from :mod:`arena_app.storage.api`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arena_app.domain import ConversationMode
from arena_app.storage import mapping, validation
from arena_app.storage.errors import InvalidInputError, NotFoundError
from arena_app.storage.models import Conversation, Message
from arena_app.storage.records import ConversationRecord, MessageRecord, StyleCounts
from arena_app.storage.types import utcnow

#: ``Session.info`` keys: rows created in this transaction, held so that later calls in it find them in
#: the identity map (the Session holds clean rows only weakly: a created battle's conversations were read
#: back with a SELECT each); and the next message position of conversations created in it.
_KEEP, _NEXT_POSITION = "arena_rows_created", "arena_next_position"


def keep_alive(s: Session, *rows: object) -> None:
    """Hold ``rows`` for the rest of the transaction (see :data:`_KEEP`)."""
    s.info.setdefault(_KEEP, []).extend(rows)


def new_conversation(
    s: Session,
    mode: ConversationMode,
    model_name: str,
    session_id: str,
    client_hash: str,
    params: dict[str, Any] | None,
) -> Conversation:
    row = Conversation(
        mode=validation.choice("conversation mode", mode, ConversationMode).value,
        model_name=validation.text("model name", model_name, validation.MAX_NAME),
        session_id=validation.text("session id", session_id, validation.MAX_ID),
        client_hash=validation.text("client hash", client_hash, validation.MAX_ID),
        params=params,
        created_at=utcnow(),
    )
    s.add(row)
    return row


def create_conversation(
    s: Session,
    *,
    mode: ConversationMode,
    model_name: str,
    session_id: str,
    client_hash: str,
    params: dict[str, Any] | None = None,
) -> ConversationRecord:
    row = new_conversation(s, mode, model_name, session_id, client_hash, params)
    s.flush()
    created_empty(s, row)
    return mapping.conversation_record(row)


def get_conversation(s: Session, conversation_id: int) -> ConversationRecord:
    return mapping.conversation_record(_get_conversation_row(s, conversation_id))


def _get_conversation_row(s: Session, conversation_id: int) -> Conversation:
    row = s.get(Conversation, conversation_id)
    if row is None:
        raise NotFoundError(f"conversation {conversation_id} does not exist")
    return row


def created_empty(s: Session, conversation: Conversation) -> None:
    """``conversation`` (flushed) was created in this transaction: it has no messages yet."""
    keep_alive(s, conversation)
    s.info.setdefault(_NEXT_POSITION, {})[conversation.id] = 0


def _next_position(s: Session, conversation_id: int) -> int:
    """The position of the next message; counted here for a conversation created in this transaction
    (every message insert goes through this module), otherwise asked of the database."""
    known: dict[int, int] = s.info.get(_NEXT_POSITION, {})
    if conversation_id in known:
        known[conversation_id] += 1
        return known[conversation_id] - 1
    last = s.scalar(select(func.max(Message.position)).where(Message.conversation_id == conversation_id))
    return 0 if last is None else last + 1


def add_user_message(s: Session, conversation_id: int, content: str) -> MessageRecord:
    """Append a user message at the next position (attempt 0)."""
    _get_conversation_row(s, conversation_id)
    if not isinstance(content, str):
        raise InvalidInputError("message content must be a string")
    row = Message(
        conversation_id=conversation_id,
        position=_next_position(s, conversation_id),
        attempt=0,
        superseded=False,
        role="user",
        content=content,
        created_at=utcnow(),
    )
    s.add(row)
    s.flush()
    return mapping.message_record(row)


def add_assistant_message(
    s: Session,
    conversation_id: int,
    content: str,
    *,
    created_at: datetime,
    finished_at: datetime | None,
    ttft_s: float | None,
    output_tokens: int | None,
    finish_reason: str | None,
    error: str | None = None,
    style: StyleCounts | None = None,
    replaces_message_id: int | None = None,
    params: dict[str, Any] | None = None,
) -> MessageRecord:
    """Store an answer. With ``replaces_message_id`` (regenerate) the old answer is kept but marked
    superseded, and the new one takes its position with the next attempt number. ``params`` are the
    generation parameters the answer was produced with (they may change from turn to turn)."""
    conversation = _get_conversation_row(s, conversation_id)
    if not isinstance(content, str):
        raise InvalidInputError("message content must be a string")
    validation.aware("created_at", created_at)
    validation.aware("finished_at", finished_at)
    if output_tokens is not None:
        validation.count("output_tokens", output_tokens)
    if replaces_message_id is None:
        position, attempt = _next_position(s, conversation_id), 0
    else:
        old = s.get(Message, replaces_message_id)
        if old is None or old.conversation_id != conversation_id:
            raise NotFoundError(f"message {replaces_message_id} is not in conversation {conversation_id}")
        if old.role != "assistant" or old.superseded:
            raise InvalidInputError(f"message {replaces_message_id} is not a current answer")
        old.superseded = True
        position = old.position
        attempt = 1 + (
            s.scalar(
                select(func.max(Message.attempt)).where(
                    Message.conversation_id == conversation_id, Message.position == position
                )
            )
            or 0
        )
    row = Message(
        conversation_id=conversation_id,
        position=position,
        attempt=attempt,
        superseded=False,
        role="assistant",
        content=content,
        created_at=created_at,
        finished_at=finished_at,
        ttft_s=ttft_s,
        output_tokens=output_tokens,
        finish_reason=finish_reason,
        error=error,
        params=params,
        answer_tokens=style.tokens if style else None,
        header_count=style.headers if style else None,
        list_count=style.lists if style else None,
        bold_count=style.bold if style else None,
        has_code=bool(style.has_code) if style else False,
    )
    s.add(row)
    s.flush()
    _refresh_style_totals(s, conversation)
    return mapping.message_record(row)


def _refresh_style_totals(s: Session, conversation: Conversation) -> None:
    """Recompute the conversation's style totals from its current answers (old answer out, new one in)."""
    totals = s.execute(
        select(
            func.coalesce(func.sum(Message.answer_tokens), 0),
            func.coalesce(func.sum(Message.header_count), 0),
            func.coalesce(func.sum(Message.list_count), 0),
            func.coalesce(func.sum(Message.bold_count), 0),
            func.count().filter(Message.has_code.is_(True)),
        ).where(
            Message.conversation_id == conversation.id,
            Message.role == "assistant",
            Message.superseded.is_(False),
        )
    ).one()
    tokens, headers, lists, bold, code_answers = (int(v or 0) for v in totals)
    conversation.answer_tokens = tokens
    conversation.header_count = headers
    conversation.list_count = lists
    conversation.bold_count = bold
    conversation.has_code = code_answers > 0
    s.flush()


def list_messages(
    s: Session, conversation_id: int, *, include_superseded: bool = False
) -> list[MessageRecord]:
    _get_conversation_row(s, conversation_id)
    stmt = select(Message).where(Message.conversation_id == conversation_id)
    if not include_superseded:
        stmt = stmt.where(Message.superseded.is_(False))
    rows = s.scalars(stmt.order_by(Message.position, Message.attempt))
    return [mapping.message_record(r) for r in rows]
