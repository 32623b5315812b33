"""The storage API: small functions taking a :class:`~sqlalchemy.orm.Session` and returning records.

The caller owns the transaction (see :func:`arena_app.storage.db.session_scope`); functions only flush.
Bad input raises :class:`InvalidInputError`, missing rows :class:`NotFoundError`, and a second vote on a
battle :class:`DuplicateVoteError`. One vote per battle is enforced by the unique constraint on
``votes.battle_id``: the vote is an ``INSERT ... ON CONFLICT DO NOTHING RETURNING id``, so a concurrent
duplicate is detected without an exception or savepoint and the caller's transaction stays usable.
(No savepoints: with the pysqlite driver an outermost SAVEPOINT would commit early on RELEASE.)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from arena_app.domain import BattleMode, ConversationMode, ExcludedReason, FeedbackKind, Outcome
from arena_app.storage import mapping, snapshot_queries, validation
from arena_app.storage.conversations import (
    add_assistant_message,
    add_user_message,
    create_conversation,
    created_empty,
    get_conversation,
    keep_alive,
    list_messages,
    new_conversation,
)
from arena_app.storage.errors import DuplicateVoteError, InvalidInputError, NotFoundError
from arena_app.storage.models import (
    AppMeta,
    Battle,
    BattleTag,
    Feedback,
    LeaderboardSnapshot,
    Message,
    Vote,
)
from arena_app.storage.records import (
    BattleRecord,
    FeedbackRecord,
    SnapshotRecord,
    VoteRecord,
)
from arena_app.storage.types import utcnow

__all__ = [
    "add_assistant_message",
    "add_battle_tags",
    "add_user_message",
    "create_battle",
    "create_conversation",
    "delete_meta",
    "get_battle",
    "get_conversation",
    "get_meta",
    "get_vote_for_battle",
    "latest_snapshot",
    "list_messages",
    "mark_battle_regenerated",
    "record_feedback",
    "record_vote",
    "save_snapshot",
    "set_battle_turns",
]

SALT_KEY = "client_id_salt"  # where older versions kept the salt (moved out at start)


def _insert_if_absent(s: Session, model: type[Vote] | type[AppMeta], values: dict[str, Any]) -> object:
    """INSERT ... ON CONFLICT DO NOTHING; the new row's key, or None when a unique key was already taken."""
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(model)
    elif dialect == "sqlite":
        stmt = sqlite.insert(model)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise InvalidInputError(f"unsupported database dialect {dialect!r}")
    stmt = stmt.values(**values).on_conflict_do_nothing()
    key = Vote.id if model is Vote else AppMeta.key
    return s.execute(stmt.returning(key)).scalar()


# --------------------------------------------------------------------------- battles and votes


def create_battle(
    s: Session,
    *,
    mode: BattleMode,
    model_a: str,
    model_b: str,
    session_id: str,
    client_hash: str,
    params_a: dict[str, Any] | None = None,
    params_b: dict[str, Any] | None = None,
    sampling_weight: float = 1.0,
) -> BattleRecord:
    """Create a battle with its two conversations (one per side, same mode as the battle).
    ``sampling_weight``: the inverse propensity of the pair's draw (anonymous battles; 1 otherwise)."""
    weight = validation.positive("sampling weight", sampling_weight)
    battle_mode = validation.choice("battle mode", mode, BattleMode)
    side_mode = ConversationMode(battle_mode.value)  # each side is a conversation of the battle's mode
    conv_a = new_conversation(s, side_mode, model_a, session_id, client_hash, params_a)
    conv_b = new_conversation(s, side_mode, model_b, session_id, client_hash, params_b)
    s.flush()
    row = Battle(
        mode=battle_mode.value,
        model_a=model_a,
        model_b=model_b,
        conversation_a_id=conv_a.id,
        conversation_b_id=conv_b.id,
        session_id=session_id,
        client_hash=client_hash,
        created_at=utcnow(),
        turn_count=0,
        regenerations=0,
        sampling_weight=weight,
    )
    s.add(row)
    s.flush()
    created_empty(s, conv_a)
    created_empty(s, conv_b)
    keep_alive(s, row)
    return mapping.battle_record(s, row, tags=())  # a new battle has no tags yet


def _get_battle_row(s: Session, battle_id: int) -> Battle:
    row = s.get(Battle, battle_id)
    if row is None:
        raise NotFoundError(f"battle {battle_id} does not exist")
    return row


def get_battle(s: Session, battle_id: int) -> BattleRecord:
    return mapping.battle_record(s, _get_battle_row(s, battle_id))


def set_battle_turns(s: Session, battle_id: int, turn_count: int) -> None:
    _get_battle_row(s, battle_id).turn_count = validation.count("turn_count", turn_count)
    s.flush()


def mark_battle_regenerated(s: Session, battle_id: int) -> None:
    _get_battle_row(s, battle_id)
    # An UPDATE ... SET x = x + 1 so concurrent regenerations are not lost.
    s.execute(
        update(Battle).where(Battle.id == battle_id).values(regenerations=Battle.regenerations + 1),
        execution_options={"synchronize_session": "fetch"},
    )
    s.flush()


def add_battle_tags(s: Session, battle_id: int, tags: Iterable[str]) -> None:
    """Add category tags; tags the battle already has are ignored."""
    _get_battle_row(s, battle_id)
    wanted = {validation.text("tag", t, 64) for t in tags}
    existing = set(s.scalars(select(BattleTag.tag).where(BattleTag.battle_id == battle_id)))
    for tag in sorted(wanted - existing):
        s.add(BattleTag(battle_id=battle_id, tag=tag))
    s.flush()


def record_vote(
    s: Session,
    *,
    battle_id: int,
    outcome: Outcome,
    turn_count: int,
    session_id: str,
    client_hash: str,
    excluded_reason: ExcludedReason | None = None,
) -> VoteRecord:
    vote_outcome = validation.choice("outcome", outcome, Outcome)
    validation.count("turn_count", turn_count)
    reason = (
        None
        if excluded_reason is None
        else validation.choice("excluded reason", excluded_reason, ExcludedReason)
    )
    _get_battle_row(s, battle_id)
    session = validation.text("session id", session_id, validation.MAX_ID)
    client = validation.text("client hash", client_hash, validation.MAX_ID)
    created_at = utcnow()
    values = {
        "battle_id": battle_id,
        "outcome": vote_outcome.value,
        "turn_count": turn_count,
        "excluded_reason": None if reason is None else reason.value,
        "session_id": session,
        "client_hash": client,
        "created_at": created_at,
    }
    s.flush()  # pending ORM changes first, so the INSERT sees them
    vote_id = _insert_if_absent(s, Vote, values)
    if not isinstance(vote_id, int):  # None: the battle's unique vote key was taken
        raise DuplicateVoteError(f"battle {battle_id} already has a vote")
    # the record from what was inserted (no SELECT of the row just written)
    return VoteRecord(
        id=vote_id,
        battle_id=battle_id,
        outcome=vote_outcome,
        turn_count=turn_count,
        excluded_reason=reason,
        session_id=session,
        client_hash=client,
        created_at=created_at,
    )


def get_vote_for_battle(s: Session, battle_id: int) -> VoteRecord | None:
    row = s.scalar(select(Vote).where(Vote.battle_id == battle_id))
    return None if row is None else mapping.vote_record(row)


# --------------------------------------------------------------------------- feedback, snapshots, meta


def record_feedback(
    s: Session,
    *,
    message_id: int,
    kind: FeedbackKind,
    session_id: str,
    client_hash: str,
    replaces: FeedbackKind | None = None,
) -> FeedbackRecord:
    """Store one feedback; ``replaces``: that kind from the same session on the same message is deleted
    in the same transaction (an upvote then a downvote leaves only the downvote)."""
    feedback_kind = validation.choice("feedback kind", kind, FeedbackKind)
    if s.get(Message, message_id) is None:
        raise NotFoundError(f"message {message_id} does not exist")
    if replaces is not None:
        s.execute(
            delete(Feedback).where(
                Feedback.message_id == message_id,
                Feedback.session_id == session_id,
                Feedback.kind == FeedbackKind(replaces).value,
            )
        )
    row = Feedback(
        message_id=message_id,
        kind=feedback_kind.value,
        session_id=validation.text("session id", session_id, validation.MAX_ID),
        client_hash=validation.text("client hash", client_hash, validation.MAX_ID),
        created_at=utcnow(),
    )
    s.add(row)
    s.flush()
    return FeedbackRecord(
        id=row.id,
        message_id=row.message_id,
        kind=FeedbackKind(row.kind),
        session_id=row.session_id,
        client_hash=row.client_hash,
        created_at=row.created_at,
    )


def save_snapshot(
    s: Session, *, category: str, params: dict[str, Any], vote_count: int, result: dict[str, Any]
) -> SnapshotRecord:
    """A plain snapshot (no style control, no incremental keys); see snapshot_queries.save_snapshot."""
    return snapshot_queries.save_snapshot(
        s,
        category=category,
        params=params,
        vote_count=vote_count,
        result=result,
        style_control=False,
        last_vote_id=None,
        votes_key=None,
        table_key=None,
    )


def latest_snapshot(s: Session, category: str = "overall") -> SnapshotRecord | None:
    row = s.scalar(
        select(LeaderboardSnapshot)
        .where(LeaderboardSnapshot.category == category)
        .order_by(LeaderboardSnapshot.created_at.desc(), LeaderboardSnapshot.id.desc())
        .limit(1)
    )
    return None if row is None else mapping.snapshot_record(row)


def latest_snapshot_id(s: Session, category: str = "overall") -> int | None:
    """The id of :func:`latest_snapshot` without loading its result (a cheap check for a new one)."""
    return s.scalar(
        select(LeaderboardSnapshot.id)
        .where(LeaderboardSnapshot.category == category)
        .order_by(LeaderboardSnapshot.created_at.desc(), LeaderboardSnapshot.id.desc())
        .limit(1)
    )


def get_meta(s: Session, key: str) -> str | None:
    """The value of an ``app_meta`` row, or None."""
    row = s.get(AppMeta, key, populate_existing=True)
    return None if row is None else row.value


def delete_meta(s: Session, key: str, value: str) -> bool:
    """Delete the ``app_meta`` row ``key`` if it still holds ``value``; True if a row was deleted."""
    result = s.execute(
        delete(AppMeta).where(AppMeta.key == key, AppMeta.value == value),
        execution_options={"synchronize_session": False},
    )
    s.flush()
    return bool(getattr(result, "rowcount", 0))
