"""``arena integrity report``: votes cast, counted and excluded by reason per UTC day, and the alarm when the
counted share of the last day falls more than a margin below the trailing two weeks.

Exclusion that goes wrong must be seen (a captcha outage in another arena silently excluded three months
of honest votes). Cast = votes of anonymous battles (the only ones that can count); excluded = a stored
``excluded_reason`` (``identity_leak``, ``anomalous_judge``) or, when the recompute-time rules are given,
``excluded_model`` and ``daily_vote_cap``; counted = the rest. The last day is the newest day with a vote;
the trailing share pools the 14 days before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy.orm import Session, sessionmaker

from arena_app.services.errors import InputRejected, storage_errors
from arena_app.services.leaderboard_votes import NO_RULES, VoteRules
from arena_app.storage import integrity_queries as iq
from arena_app.storage.db import session_scope

TRAILING_DAYS = 14


@dataclass(frozen=True)
class DayCounts:
    day: str  # YYYY-MM-DD (UTC)
    cast: int
    excluded: dict[str, int] = field(default_factory=dict)  # reason -> votes

    @property
    def counted(self) -> int:
        return self.cast - sum(self.excluded.values())

    @property
    def share(self) -> float:
        return self.counted / self.cast if self.cast else 1.0


@dataclass(frozen=True)
class IntegrityReport:
    days: list[DayCounts]  # oldest first
    margin: float
    last_share: float | None  # None: no votes at all
    trailing_share: float | None  # None: no votes in the 14 days before the last
    reasons: list[str]  # every reason seen, sorted

    @property
    def alarm(self) -> bool:
        """The last day's counted share is more than ``margin`` below the trailing two weeks'."""
        if self.last_share is None or self.trailing_share is None:
            return False
        return self.last_share < self.trailing_share - self.margin

    def verdict(self) -> str:
        if self.last_share is None:
            return "no votes yet"
        if self.trailing_share is None:
            return f"last day: {self.last_share:.1%} counted; no earlier votes to compare with"
        line = (
            f"last day ({self.days[-1].day}): {self.last_share:.1%} counted; the {TRAILING_DAYS} days "
            f"before: {self.trailing_share:.1%}"
        )
        if self.alarm:
            return f"ALARM: {line}, more than {self.margin:.0%} points lower. Check what excluded the votes."
        return f"ok: {line} (alarm below {self.trailing_share - self.margin:.1%})"


def integrity_report(
    session_factory: sessionmaker[Session], *, margin: float = 0.10, rules: VoteRules = NO_RULES
) -> IntegrityReport:
    """Per-day counts over every vote, and the last day's counted share against the trailing two weeks."""
    if not 0 <= margin < 1:
        raise InputRejected(f"the margin is a share between 0 and 1, got {margin}")
    with storage_errors(), session_scope(session_factory) as s:
        rows = iq.daily_counts(s, rules.selection())
    by_day: dict[str, tuple[int, dict[str, int]]] = {}
    for day, reason, votes in rows:
        cast, excluded = by_day.setdefault(day, (0, {}))
        if reason == iq.CAST:
            by_day[day] = (cast + votes, excluded)
        else:
            excluded[reason] = excluded.get(reason, 0) + votes
    days = [DayCounts(d, cast, excluded) for d, (cast, excluded) in sorted(by_day.items())]
    reasons = sorted({r for d in days for r in d.excluded})
    if not days:
        return IntegrityReport([], margin, None, None, reasons)
    last = days[-1]
    start = (date.fromisoformat(last.day) - timedelta(days=TRAILING_DAYS)).isoformat()
    trailing = [d for d in days[:-1] if d.day >= start]
    cast = sum(d.cast for d in trailing)
    trailing_share = sum(d.counted for d in trailing) / cast if cast else None
    return IntegrityReport(days, margin, last.share, trailing_share, reasons)
