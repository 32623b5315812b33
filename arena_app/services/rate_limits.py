"""Per-client rate limits on battles and votes, enforced through the database so replicas share them.

Settings ``rate_limit_battles`` / ``rate_limit_votes`` (``ARENA_RATE_LIMIT_BATTLES`` / ``_VOTES``, default
``60/hour`` each) in the ``limits`` notation (:mod:`arena_app.services.rate_limit_rules`). The client is
the salted client hash, so every session from one address shares one budget. :meth:`RateLimiter.check`
runs inside the transaction that stores the action, after its row was inserted
(:mod:`arena_app.storage.rate_limits` says why that is exact under concurrency); a refusal raises
:class:`~arena_app.services.errors.RateLimited`, which rolls the transaction back: nothing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from arena_app.services.errors import RateLimited
from arena_app.services.rate_limit_rules import (
    BATTLES,
    VOTES,
    ActionWords,
    RateLimit,
    decide,
    parse_rate_limit,
    refusal_message,
    window_start,
)
from arena_app.storage import rate_limits
from arena_app.storage.types import utcnow

_WORDS: dict[str, ActionWords] = {"battle": BATTLES, "vote": VOTES}


@dataclass(frozen=True)
class RateLimiter:
    """The limits of one action (``"battle"`` or ``"vote"``)."""

    action: str
    limit: RateLimit

    @classmethod
    def of(cls, action: str, notation: str) -> RateLimiter:
        return cls(action, parse_rate_limit(notation))

    def lock(self, s: Session, client_hash: str) -> None:
        """Call first in the transaction that will store the action (PostgreSQL: per-client lock)."""
        if self.limit.enabled:
            rate_limits.lock_client(s, self.action, client_hash)

    def check(self, s: Session, client_hash: str, own_id: int, now: datetime | None = None) -> None:
        """Raise :class:`RateLimited` when the action just inserted as row ``own_id`` exceeds a rule."""
        if not self.limit.enabled:
            return
        now = now or utcnow()
        windows = [(window_start(rule, now), rule.amount) for rule in self.limit.rules]
        times = rate_limits.nth_latest(s, self.action, client_hash, windows, exclude_id=own_id)
        decision = decide(self.limit, times, now)
        if not decision.allowed:
            message = refusal_message(decision, _WORDS[self.action], now)
            # the UI adds the ⚠️ of every refusal itself (ui.common.failure_notice)
            raise RateLimited(message.removeprefix("⚠️").strip(), decision.retry_after_s(now))
