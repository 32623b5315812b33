"""The database side of the rate limits: a per-client lock and the sliding-log query over stored rows.

Battles and votes already carry ``client_hash`` and ``created_at`` (an index on both, per table), so a
rule "N per P" is one indexed query for the N-th most recent action after ``now - P`` (see
:mod:`arena_app.services.rate_limit_rules`); no counter table, nothing to expire.

**Why the budget holds across replicas.** The check runs in the same transaction as the insert it
guards, *after* :func:`lock_client`:

- PostgreSQL: ``pg_advisory_xact_lock(action, key(client))`` serialises the transactions of one client
  (released at commit or rollback); under READ COMMITTED each later statement sees every row committed
  before the lock was granted, so two replicas cannot both see room for the last action.
- SQLite: one writer at a time. The guarded row is inserted first (the first INSERT takes the write
  lock, on the newest snapshot), then the query runs, excluding the new row: every other writer has
  either committed before us (visible) or waits for our commit.

A refused action raises inside the transaction, so its rows are rolled back: nothing is stored.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, bindparam, select, text
from sqlalchemy.orm import Session

from arena_app.storage.models import Battle, Vote
from arena_app.storage.types import UTCDateTime

#: what is limited -> (table, the advisory lock's first key)
ACTIONS: dict[str, tuple[type[Battle] | type[Vote], int]] = {
    "battle": (Battle, 71_001),
    "vote": (Vote, 71_002),
}


def _signed32(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


def lock_client(s: Session, action: str, client_hash: str) -> None:
    """Serialise ``action``'s rate-limit checks of one client until the transaction ends (PostgreSQL; on
    SQLite the write lock taken by the guarded INSERT does it)."""
    _, namespace = ACTIONS[action]
    if s.get_bind().dialect.name == "postgresql":
        key = _signed32(zlib.crc32(client_hash.encode()))
        s.execute(text("SELECT pg_advisory_xact_lock(:ns, :key)"), {"ns": namespace, "key": key})


@functools.cache
def _nth_latest_query(action: str) -> Select[datetime]:
    """The sliding-log query of ``action``, built once (its compiled form is cached by SQLAlchemy)."""
    model, _ = ACTIONS[action]
    return (
        select(model.created_at)
        .where(
            model.client_hash == bindparam("client"),
            model.created_at > bindparam("since", type_=UTCDateTime()),
            model.id != bindparam("own"),
        )
        .order_by(model.created_at.desc())
        .limit(1)
        .offset(bindparam("offset"))
    )


def nth_latest(
    s: Session,
    action: str,
    client_hash: str,
    windows: Sequence[tuple[datetime, int]],
    exclude_id: int | None = None,
) -> list[datetime | None]:
    """Per ``(since, n)``: the time of the client's ``n``-th most recent ``action`` after ``since``, or
    None when there are fewer (``exclude_id``: the row being guarded, not counted against itself)."""
    query = _nth_latest_query(action)
    own = -1 if exclude_id is None else exclude_id  # ids start at 1
    return [
        s.execute(query, {"client": client_hash, "since": since, "own": own, "offset": n - 1}).scalar()
        for since, n in windows
    ]
