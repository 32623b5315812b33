"""SQLAlchemy ORM models. Created only through Alembic migrations (``migrations/``).

Conversations are stored once, as rows of messages; battles and votes reference them by id, so nothing
re-embeds a whole conversation per row (FastChat's JSON logs do, and grow quadratically).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Double,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from arena_app.domain import BattleMode, ConversationMode, FeedbackKind, Outcome, values
from arena_app.storage.types import BigIntPK, UTCDateTime, utcnow

# Deterministic constraint names so migrations can drop/alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MESSAGE_ROLES = ("system", "user", "assistant")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Conversation(Base):
    """One side of a battle, or one direct chat. Style totals cover its current (non-superseded) answers."""

    __tablename__ = "conversations"
    __table_args__ = (CheckConstraint(_in("mode", values(ConversationMode)), name="mode"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    mode: Mapped[str] = mapped_column(String(16))
    model_name: Mapped[str] = mapped_column(String(200), index=True)
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    client_hash: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Style totals, maintained when an answer is stored, so the style-controlled leaderboard never
    # re-parses conversations at recompute time.
    answer_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    header_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    list_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    bold_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    has_code: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Message(Base):
    """A user message or an answer. A regenerated answer keeps the old row (``superseded``) as a record."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "position", "attempt", name="uq_messages_position_attempt"),
        CheckConstraint(_in("role", MESSAGE_ROLES), name="role"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    superseded: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ttft_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    output_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # a FinishReason (stop | length | stopped | error; partial content for the last two) or a provider value
    finish_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The generation parameters an answer was produced with (null for user messages). They may change
    # between turns in named side-by-side and direct chat, so the conversation's own ``params`` (set when
    # it starts) does not describe every answer.
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # Style features of an answer (null for user messages or when not computed).
    answer_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    header_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    list_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    bold_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    has_code: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Battle(Base):
    __tablename__ = "battles"
    __table_args__ = (
        CheckConstraint(_in("mode", values(BattleMode)), name="mode"),
        Index("ix_battles_mode_models", "mode", "model_a", "model_b"),
        # the per-client rate limit's sliding-log query (storage/rate_limits.py)
        Index("ix_battles_client_created", "client_hash", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    mode: Mapped[str] = mapped_column(String(16))
    model_a: Mapped[str] = mapped_column(String(200))
    model_b: Mapped[str] = mapped_column(String(200))
    conversation_a_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), unique=True)
    conversation_b_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), unique=True)
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    client_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    turn_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    regenerations: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Inverse-propensity weight of how the pair was drawn, 1 / (K P(pair)) with K the pairs it was drawn
    # from: 1 under uniform sampling, and for named battles and battles stored before weights were
    # recorded. The leaderboard fit uses it when the votes were sampled non-uniformly (docs/leaderboard.md).
    sampling_weight: Mapped[float] = mapped_column(Float, default=1.0, server_default="1")
    # Set on battles brought in by ``arena import`` (e.g. ``fastchat:<question_id>``): re-importing a file
    # finds its battles by this key and adds nothing. Null for the arena's own battles.
    import_key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    # The prompt's language as the source recorded it (FastChat's ``language``); null when unknown.
    language: Mapped[str | None] = mapped_column(String(64), nullable=True)


class BattleTag(Base):
    """Category tags of a battle (e.g. multi_turn, long_prompt, code, or operator-defined tags)."""

    __tablename__ = "battle_tags"

    battle_id: Mapped[int] = mapped_column(ForeignKey("battles.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class Vote(Base):
    """At most one vote per battle (unique constraint). Excluded votes keep a reason; none is deleted."""

    __tablename__ = "votes"
    __table_args__ = (
        CheckConstraint(_in("outcome", values(Outcome)), name="outcome"),
        Index("ix_votes_counted", "excluded_reason", "battle_id"),
        # the per-client rate limit's sliding-log query (storage/rate_limits.py)
        Index("ix_votes_client_created", "client_hash", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    battle_id: Mapped[int] = mapped_column(ForeignKey("battles.id"), unique=True)
    outcome: Mapped[str] = mapped_column(String(16))
    turn_count: Mapped[int] = mapped_column(Integer)
    excluded_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)  # an ExcludedReason
    session_id: Mapped[str] = mapped_column(String(64))
    client_hash: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class Feedback(Base):
    """Direct-chat feedback on one answer."""

    __tablename__ = "feedback"
    __table_args__ = (CheckConstraint(_in("kind", values(FeedbackKind)), name="kind"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    session_id: Mapped[str] = mapped_column(String(64))
    client_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LeaderboardSnapshot(Base):
    """A computed leaderboard with the parameters and vote count that reproduce it."""

    __tablename__ = "leaderboard_snapshots"
    __table_args__ = (Index("ix_leaderboard_snapshots_category_created", "category", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    category: Mapped[str] = mapped_column(String(64), default="overall")
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    vote_count: Mapped[int] = mapped_column(Integer)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Whether the result holds style-controlled ratings (the style view reads the newest such snapshot).
    style_control: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # The highest vote id the ratings had seen and the counted-votes version they were computed from
    # (services/leaderboard_tallies.py); null on snapshots stored before they were recorded.
    last_vote_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    votes_key: Mapped[str | None] = mapped_column(String(96), nullable=True)
    # sha256 of the params and the result without timings: equal keys = the same table
    table_key: Mapped[str | None] = mapped_column(String(64), nullable=True)


class LeaderboardTally(Base):
    """Incremental leaderboard state of one category: the counted votes up to ``last_vote_id`` are in its
    pair counts and Elo ratings; ``votes_key`` is the fingerprint of the counted votes at that id (a
    change below it means a rebuild)."""

    __tablename__ = "leaderboard_tallies"

    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_vote_id: Mapped[int] = mapped_column(BigInteger)
    votes_key: Mapped[str] = mapped_column(String(96))
    elo_key: Mapped[str] = mapped_column(String(200))  # the Elo parameters the ratings were run with
    vote_count: Mapped[int] = mapped_column(BigInteger)  # the category's counted votes in the tally
    vote_hash: Mapped[int] = mapped_column(BigInteger)  # and the sum of their id hashes (see tally_queries)
    # how many of them were drawn with a sampling weight other than 1 (then --weights auto fits weights,
    # which the tallies cannot serve)
    weighted_votes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LeaderboardPairCount(Base):
    """Counted votes of one category per unordered pair (``model_i < model_j``) and outcome."""

    __tablename__ = "leaderboard_pair_counts"

    category: Mapped[str] = mapped_column(
        ForeignKey("leaderboard_tallies.category", ondelete="CASCADE"), primary_key=True
    )
    model_i: Mapped[str] = mapped_column(String(200), primary_key=True)
    model_j: Mapped[str] = mapped_column(String(200), primary_key=True)
    i_wins: Mapped[int] = mapped_column(BigInteger)
    j_wins: Mapped[int] = mapped_column(BigInteger)
    ties: Mapped[int] = mapped_column(BigInteger)  # "tie" only
    bothbad: Mapped[int] = mapped_column(BigInteger)  # "tie (bothbad)"


class LeaderboardEloRating(Base):
    """Online Elo of one model in one category after every counted vote up to the tally's last vote id."""

    __tablename__ = "leaderboard_elo_ratings"

    category: Mapped[str] = mapped_column(
        ForeignKey("leaderboard_tallies.category", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    rating: Mapped[float] = mapped_column(Double)


class LeaderboardLease(Base):
    """Who may recompute the leaderboard now: one row per job; a replica holds it until ``expires_at``."""

    __tablename__ = "leaderboard_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AppMeta(Base):
    """Small key/value settings the app generates once (e.g. the client-hash salt if none is configured)."""

    __tablename__ = "app_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
