"""Leases: a row per job saying which process may run it until when, so that of several app replicas on
one database exactly one runs the job at a time (SQLite and PostgreSQL alike).

Taking a lease is one conditional ``UPDATE ... WHERE name = :name AND (holder = :me OR expires_at < :now)``:
the database serialises concurrent UPDATEs of one row (PostgreSQL re-checks the condition on the row a
concurrent transaction committed; SQLite has one writer at a time), so at most one caller sees a row
changed. The first caller ever inserts the row (``ON CONFLICT DO NOTHING``: of two first callers one wins).
Times are the callers' clocks (UTC): replicas need clocks in sync to well within the lease's length.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from arena_app.storage.errors import InvalidInputError
from arena_app.storage.models import LeaderboardLease

EXPIRED = datetime(1970, 1, 1, tzinfo=UTC)


def try_acquire(s: Session, name: str, holder: str, seconds: float, now: datetime) -> bool:
    """Take (or renew) lease ``name`` for ``seconds`` from ``now``; False when someone else holds it."""
    until = now + timedelta(seconds=seconds)
    changed = s.execute(
        update(LeaderboardLease)
        .where(
            LeaderboardLease.name == name,
            or_(LeaderboardLease.holder == holder, LeaderboardLease.expires_at < now),
        )
        .values(holder=holder, expires_at=until)
    )
    if changed.rowcount == 1:  # type: ignore[attr-defined]
        return True
    dialect = s.get_bind().dialect.name
    stmt: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        stmt = postgresql.insert(LeaderboardLease)
    elif dialect == "sqlite":
        stmt = sqlite.insert(LeaderboardLease)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise InvalidInputError(f"unsupported database dialect {dialect!r}")
    inserted = s.execute(
        stmt.values(name=name, holder=holder, expires_at=until)
        .on_conflict_do_nothing()
        .returning(LeaderboardLease.name)
    ).first()
    return inserted is not None


def release(s: Session, name: str, holder: str) -> None:
    """Give lease ``name`` back if ``holder`` has it (anyone may take it at once)."""
    s.execute(
        update(LeaderboardLease)
        .where(LeaderboardLease.name == name, LeaderboardLease.holder == holder)
        .values(expires_at=EXPIRED)
    )


def holder_of(s: Session, name: str, now: datetime) -> tuple[str, datetime] | None:
    """Who holds lease ``name`` now and until when (None: nobody)."""
    row = s.get(LeaderboardLease, name, populate_existing=True)
    if row is None or row.expires_at <= now:
        return None
    return row.holder, row.expires_at
