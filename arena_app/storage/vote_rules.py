"""Recompute-time vote rules in SQL (FastChat's offline filters): excluded models and a per-judge daily cap.

Both narrow the *counted* votes (anonymous battle, ``excluded_reason`` NULL) without changing any row, so
changing the rule and recomputing is all it takes to undo it. The daily cap keeps each judge's
(``votes.client_hash``) first ``cap`` votes of every UTC day, in vote-id order (ids grow with time), among
the votes that would otherwise count: FastChat's ``--daily-vote-per-user`` applied after dropping excluded
models and non-anonymous battles, before categories (the pure reference is
:func:`leaderboard.filters.daily_cap_mask`; the tests compare both). :class:`utc_day` is the calendar day
of a UTC timestamp on both databases.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Date, and_, func, not_, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from arena_app.domain import BattleMode
from arena_app.storage.models import Battle, Vote


class utc_day(FunctionElement[Any]):  # noqa: N801 - an SQL function, named like one
    """``utc_day(ts)``: the UTC calendar day of a timestamp column, as ``YYYY-MM-DD`` text."""

    type = Date()
    inherit_cache = True
    name = "utc_day"


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"  # stored as naive UTC text


@compiles(utc_day, "postgresql")
def _utc_day_pg(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    # timestamptz -> the UTC wall clock, whatever the session's TimeZone; to_char: the same text as SQLite
    return f"to_char(timezone('UTC', {compiler.process(element.clauses, **kw)}), 'YYYY-MM-DD')"


def model_excluded(models: Sequence[str]) -> ColumnElement[bool]:
    """True for a battle with one of ``models`` on either side. Plain equalities, not ``IN``: the bulk row
    readers execute the compiled SQL on the DBAPI cursor, which has no expanding parameters."""
    names = sorted(set(models))
    return or_(*(side == name for name in names for side in (Battle.model_a, Battle.model_b)))


def within_daily_cap(cap: int, excluded_models: Sequence[str] = ()) -> ColumnElement[bool]:
    """True for a vote among its judge's first ``cap`` otherwise-counted votes of its UTC day."""
    rank = func.row_number().over(partition_by=(Vote.client_hash, utc_day(Vote.created_at)), order_by=Vote.id)
    ranked = (
        select(Vote.id.label("vote_id"), rank.label("day_rank"))
        .select_from(Vote)
        .join(Battle, Battle.id == Vote.battle_id)
        .where(Battle.mode == BattleMode.ANONY, Vote.excluded_reason.is_(None))
    )
    if excluded_models:
        ranked = ranked.where(not_(model_excluded(excluded_models)))
    sub = ranked.subquery("capped")
    return Vote.id.in_(select(sub.c.vote_id).where(sub.c.day_rank <= cap))


def rule_clauses(excluded_models: Sequence[str], cap: int) -> list[ColumnElement[bool]]:
    """WHERE clauses of the rules (none when both are off)."""
    clauses: list[ColumnElement[bool]] = []
    if excluded_models:
        clauses.append(not_(model_excluded(excluded_models)))
    if cap > 0:
        clauses.append(within_daily_cap(cap, excluded_models))
    return clauses


def counted_base() -> ColumnElement[bool]:
    """Anonymous battle and no stored exclusion (before the rules)."""
    return and_(Battle.mode == BattleMode.ANONY, Vote.excluded_reason.is_(None))
