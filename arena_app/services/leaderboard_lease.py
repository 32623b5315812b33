"""The recompute lease: of several ``arena serve`` replicas (and operator commands) on one database,
exactly one recomputes the leaderboard at a time (a row in ``leaderboard_leases``, see
:mod:`arena_app.storage.leases`; works on SQLite and PostgreSQL alike).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from arena_app.services.errors import Refused, storage_errors
from arena_app.storage import leases
from arena_app.storage.db import session_scope

RECOMPUTE = "leaderboard-recompute"


def new_holder() -> str:
    """A name for this process that no other replica has: host, pid and a random part."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class RecomputeLease:
    """Take, renew and give back the recompute lease for one holder."""

    def __init__(
        self, session_factory: sessionmaker[Session], *, holder: str | None = None, seconds: float = 600.0
    ) -> None:
        self._factory = session_factory
        self.holder = holder or new_holder()
        self.seconds = seconds

    def acquire(self) -> bool:
        """Take or renew it for ``seconds``; False when another holder has it."""
        with storage_errors(), session_scope(self._factory) as s:
            return leases.try_acquire(s, RECOMPUTE, self.holder, self.seconds, datetime.now(UTC))

    def release(self) -> None:
        with storage_errors(), session_scope(self._factory) as s:
            leases.release(s, RECOMPUTE, self.holder)

    def held_by(self) -> tuple[str, datetime] | None:
        """Who holds it now and until when (None: nobody)."""
        with storage_errors(), session_scope(self._factory) as s:
            return leases.holder_of(s, RECOMPUTE, datetime.now(UTC))

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold it for the block, or raise :class:`Refused` naming who has it (for operator commands)."""
        if not self.acquire():
            who = self.held_by()
            until = f" until {who[1]:%Y-%m-%d %H:%M:%S} UTC" if who else ""
            raise Refused(
                f"another process is recomputing the leaderboard ({who[0] if who else 'unknown'}{until}); "
                "try again when it is done"
            )
        try:
            yield
        finally:
            self.release()
