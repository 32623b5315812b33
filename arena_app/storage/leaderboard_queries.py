"""SQL for the leaderboard: counted votes aggregated with GROUP BY, time-ordered battle rows for online Elo
and style control, and snapshot categories.

A vote is *counted* when its battle is anonymous (``battles.mode = 'anony'``) and ``votes.excluded_reason``
is NULL. A :class:`VoteSelection` narrows that set: by ``votes.turn_count`` or by a ``battle_tags`` row (the
services turn a category name into one with :mod:`leaderboard.categories`, which storage does not import).
Rows are fetched in batches straight into compact numpy arrays, so a million votes never exist as a million
ORM objects.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Integer, Text, and_, bindparam, case, cast, column, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased
from sqlalchemy.sql import ColumnElement, Select

from arena_app.domain import OUTCOME_CODES, BattleMode
from arena_app.storage.models import Battle, BattleTag, Conversation, LeaderboardSnapshot, Vote
from arena_app.storage.pg_copy_rows import copy_int4_columns
from arena_app.storage.vote_rules import rule_clauses

FETCH_BATCH = 100_000

Codes = NDArray[np.int64]
AnySelect = Select[*tuple[Any, ...]]
Column = ColumnElement[Any] | InstrumentedAttribute[Any]
_Stmt = TypeVar("_Stmt", bound=AnySelect)


@dataclass(frozen=True)
class VoteSelection:
    """Which counted votes to read: every one (the default), those with at least ``min_turns`` user turns at
    vote time, and/or those whose battle carries ``tag`` (a ``battle_tags`` row); and only the vote ids in
    ``after_id < id <= up_to_id`` when those are set (the incremental recompute's new votes).

    Recompute-time rules (FastChat's offline filters, :mod:`arena_app.storage.vote_rules`) narrow "counted"
    itself: battles with a model of ``excluded_models`` on either side are left out, and of the rest only
    each judge's first ``daily_vote_cap`` votes of each UTC day count (0: no cap)."""

    min_turns: int = 0
    tag: str | None = None
    after_id: int | None = None
    up_to_id: int | None = None
    excluded_models: tuple[str, ...] = ()
    daily_vote_cap: int = 0


EVERY_COUNTED_VOTE = VoteSelection()


@dataclass(frozen=True)
class AggregatedVotes:
    """GROUP BY (model_a, model_b, outcome) over the selected counted votes."""

    models: list[str]  # sorted names of models with at least one counted vote
    model_a: Codes
    model_b: Codes
    outcome: Codes
    count: Codes
    vote_count: int


@dataclass(frozen=True)
class BattleRows:
    """Counted votes one per row, in vote order (ids grow with time); style totals when requested."""

    models: list[str]
    model_a: Codes
    model_b: Codes
    outcome: Codes
    features_a: NDArray[np.float64] | None  # (n, 4): answer_tokens, header_count, list_count, bold_count
    features_b: NDArray[np.float64] | None


def _counted(stmt: _Stmt, selection: VoteSelection) -> _Stmt:
    stmt = stmt.where(Battle.mode == BattleMode.ANONY, Vote.excluded_reason.is_(None))
    stmt = stmt.where(*rule_clauses(selection.excluded_models, selection.daily_vote_cap))
    return in_category(stmt, selection)


def in_category(stmt: _Stmt, selection: VoteSelection) -> _Stmt:
    """Only the votes of the selection's category (its ``min_turns`` and ``tag``) and id range."""
    if selection.min_turns > 0:
        stmt = stmt.where(Vote.turn_count >= selection.min_turns)
    if selection.tag is not None:
        stmt = stmt.join(
            BattleTag, and_(BattleTag.battle_id == Vote.battle_id, BattleTag.tag == selection.tag)
        )
    if selection.after_id is not None:
        stmt = stmt.where(Vote.id > selection.after_id)
    if selection.up_to_id is not None:
        stmt = stmt.where(Vote.id <= selection.up_to_id)
    return stmt


def aggregate_counted_votes(s: Session, selection: VoteSelection = EVERY_COUNTED_VOTE) -> AggregatedVotes:
    stmt = _counted(
        select(Battle.model_a, Battle.model_b, Vote.outcome, func.count())
        .select_from(Vote)
        .join(Battle, Battle.id == Vote.battle_id),
        selection,
    ).group_by(Battle.model_a, Battle.model_b, Vote.outcome)
    rows = [r for r in s.execute(stmt).all() if r[0] != r[1]]  # a self-battle carries no information
    names = sorted({r[0] for r in rows} | {r[1] for r in rows})
    ids = {n: i for i, n in enumerate(names)}
    a = np.array([ids[r[0]] for r in rows], dtype=np.int64)
    b = np.array([ids[r[1]] for r in rows], dtype=np.int64)
    o = np.array([OUTCOME_CODES[r[2]] for r in rows], dtype=np.int64)
    c = np.array([r[3] for r in rows], dtype=np.int64)
    return AggregatedVotes(names, a, b, o, c, int(c.sum()))


def _raw_batches(s: Session, stmt: AnySelect) -> Iterator[list[tuple[Any, ...]]]:  # DBAPI rows: untyped
    """Stream a SELECT of plain columns through the DBAPI cursor, ``FETCH_BATCH`` rows at a time.

    SQLAlchemy's Row objects cost ~2.5 us per row; a million rows are 2-3x cheaper as plain driver tuples.
    On PostgreSQL a named (server-side) cursor keeps the client from holding the whole result.
    """
    conn = s.connection()
    compiled = stmt.compile(dialect=conn.dialect)
    params = compiled.construct_params()
    args: object = tuple(params[k] for k in compiled.positiontup or ()) if compiled.positional else params
    raw = conn.connection.driver_connection
    assert raw is not None
    if conn.dialect.name == "postgresql":
        cursor = raw.cursor(name="arena_leaderboard_rows")
        cursor.itersize = FETCH_BATCH
    else:
        cursor = raw.cursor()
    try:
        cursor.execute(str(compiled), args)
        while True:
            batch = cursor.fetchmany(FETCH_BATCH)
            if not batch:
                return
            yield batch
    finally:
        cursor.close()


def _battle_rows_stmt(
    selection: VoteSelection, with_style: bool, first: Sequence[Column], *, int4: bool = False
) -> AnySelect:
    """The counted-votes SELECT in vote-id order: ``first`` columns, then the style totals when asked
    (cast to int4 when ``int4``)."""
    ca, cb = aliased(Conversation), aliased(Conversation)
    cols: list[Column] = list(first)
    if with_style:
        style = [
            col for c in (ca, cb) for col in (c.answer_tokens, c.header_count, c.list_count, c.bold_count)
        ]
        cols += [cast(c, Integer) for c in style] if int4 else style
    stmt = select(*cols).select_from(Vote).join(Battle, Battle.id == Vote.battle_id)
    if with_style:
        stmt = stmt.join(ca, ca.id == Battle.conversation_a_id).join(cb, cb.id == Battle.conversation_b_id)
    return _counted(stmt, selection).order_by(Vote.id)


def _battle_rows(
    names: list[str], a: np.ndarray, b: np.ndarray, o: np.ndarray, feats: np.ndarray | None
) -> BattleRows:
    """Drop self-battles and keep only the models that still appear (``names`` sorted, indices into it)."""
    keep = a != b
    a, b, o = a[keep], b[keep], o[keep]
    used = np.union1d(a, b)
    if len(used) < len(names):
        squeeze = np.full(len(names), -1, dtype=np.int64)
        squeeze[used] = np.arange(len(used))
        names = [names[i] for i in used]
        a, b = squeeze[a], squeeze[b]
    fa = fb = None
    if feats is not None:
        f = feats[keep]
        fa, fb = f[:, :4], f[:, 4:]
    return BattleRows(names, a, b, o, fa, fb)


def counted_battle_rows(
    s: Session, selection: VoteSelection = EVERY_COUNTED_VOTE, *, with_style: bool = False
) -> BattleRows:
    """Every selected counted vote as (model_a, model_b, outcome[, style totals]) in vote-id order.

    Model indices refer to ``BattleRows.models`` (sorted names). Battles of a model against itself are
    left out (they carry no information). PostgreSQL streams the rows as binary COPY (:mod:`.pg_copy_rows`);
    other databases through the DBAPI cursor.
    """
    if s.get_bind().dialect.name == "postgresql":
        return _counted_battle_rows_pg(s, selection, with_style=with_style)
    return _counted_battle_rows_generic(s, selection, with_style=with_style)


def _counted_battle_rows_generic(s: Session, selection: VoteSelection, *, with_style: bool) -> BattleRows:
    stmt = _battle_rows_stmt(selection, with_style, [Battle.model_a, Battle.model_b, Vote.outcome])
    ids: dict[str, int] = {}
    parts: list[list[NDArray[Any]]] = []
    for batch in _raw_batches(s, stmt):
        cols_t = list(zip(*batch, strict=True))
        n = len(batch)
        for name in set(cols_t[0]).union(cols_t[1]):
            if name not in ids:
                ids[name] = len(ids)
        part: list[NDArray[Any]] = [
            np.fromiter(map(ids.__getitem__, cols_t[0]), dtype=np.int32, count=n),
            np.fromiter(map(ids.__getitem__, cols_t[1]), dtype=np.int32, count=n),
            np.fromiter(map(OUTCOME_CODES.__getitem__, cols_t[2]), dtype=np.int8, count=n),
        ]
        if with_style:
            part.append(np.array(cols_t[3:], dtype=np.float64).T)
        parts.append(part)
    if not parts:
        return _empty_rows(with_style)
    names = sorted(ids)
    remap = np.empty(len(ids), dtype=np.int64)
    for new, name in enumerate(names):
        remap[ids[name]] = new
    a = remap[np.concatenate([p[0] for p in parts])]
    b = remap[np.concatenate([p[1] for p in parts])]
    o = np.concatenate([p[2] for p in parts]).astype(np.int64)
    feats = np.concatenate([p[3] for p in parts]) if with_style else None
    return _battle_rows(names, a, b, o, feats)


def _empty_rows(with_style: bool) -> BattleRows:
    empty = np.zeros(0, dtype=np.int64)
    feats = np.zeros((0, 4)) if with_style else None
    return BattleRows([], empty, empty, empty, feats, feats)


# Every model name stored on a conversation, by a loose index scan of ix_conversations_model_name (one
# index probe per distinct name: milliseconds, where DISTINCT over the battles scans the whole table).
_CONVERSATION_MODELS = text(
    "WITH RECURSIVE n(name) AS ("
    " SELECT min(model_name) FROM conversations"
    " UNION ALL"
    " SELECT (SELECT min(model_name) FROM conversations WHERE model_name > n.name) FROM n"
    " WHERE n.name IS NOT NULL"
    ") SELECT name FROM n WHERE name IS NOT NULL"
)
# For the one big join + sort of the row read: hash tables and the sort in memory instead of temp-file
# batches at the default 4MB, and no JIT compilation (~0.15 s that a streaming scan never earns back).
_PG_ROW_SETTINGS = {"work_mem": "256MB", "jit": "off"}


def _counted_battle_rows_pg(s: Session, selection: VoteSelection, *, with_style: bool) -> BattleRows:
    """The same rows with every column an int4 computed on the server, read through binary COPY.

    Model names become indices into a sorted name list (an ``unnest(...) WITH ORDINALITY`` hash join) and
    the outcome its code (CASE), so the client parses fixed-width rows with numpy instead of building a
    Python tuple and strings per row. The list is the conversations' model names (cheap); a battle model
    missing from it (index -1 from the outer join) makes it fall back to the battles' own names.
    """
    names = sorted(s.scalars(_CONVERSATION_MODELS).all())
    rows = _pg_rows(s, selection, with_style, names)
    if rows is None:
        both = select(Battle.model_a).union(select(Battle.model_b))
        rows = _pg_rows(s, selection, with_style, sorted(s.scalars(both).all()))
        assert rows is not None, "every battle model is in the battles' own name list"
    return rows


def _pg_rows(s: Session, selection: VoteSelection, with_style: bool, names: list[str]) -> BattleRows | None:
    """Rows with model indices into ``names``; None when some counted battle has a model not in it."""
    names_param = bindparam("arena_model_names", names, type_=ARRAY(Text))
    maps = [
        func.unnest(names_param).table_valued(column("name", Text), with_ordinality="idx").render_derived(n)
        for n in ("ma", "mb")
    ]
    outcome = case(dict(OUTCOME_CODES), value=Vote.outcome)
    first = [cast(func.coalesce(m.c.idx - 1, -1), Integer) for m in maps] + [cast(outcome, Integer)]
    stmt = _battle_rows_stmt(selection, with_style, first, int4=True)
    stmt = stmt.outerjoin(maps[0], maps[0].c.name == Battle.model_a)
    stmt = stmt.outerjoin(maps[1], maps[1].c.name == Battle.model_b)
    cols = copy_int4_columns(s, stmt, 11 if with_style else 3, settings=_PG_ROW_SETTINGS)
    if not len(cols):
        return _empty_rows(with_style)
    if (cols[:, :2] < 0).any():
        return None
    a = cols[:, 0].astype(np.int64)
    b = cols[:, 1].astype(np.int64)
    o = cols[:, 2].astype(np.int64)
    feats = cols[:, 3:].astype(np.float64) if with_style else None
    return _battle_rows(names, a, b, o, feats)


def stored_tags(s: Session) -> list[str]:
    """Every tag stored on some battle, sorted."""
    return sorted(s.scalars(select(BattleTag.tag).distinct()).all())


def snapshot_categories(s: Session) -> list[str]:
    """Categories with at least one stored snapshot, sorted."""
    return sorted(s.scalars(select(LeaderboardSnapshot.category).distinct()).all())
