"""Rate-limit rules in the ``limits`` package's notation, and the pure allow-or-refuse decision.

Notation (parsed by ``limits.parse``): ``N/second|minute|hour|day`` or ``N per hour``, optionally with a
multiple (``10/5 minutes``), plurals and any case; several rules separated by ``;`` (every rule must
allow the action); ``off`` disables the limit. Month (30 days) and year (360 days) work as in
``limits``; the amount must be at least 1 (use ``off`` rather than a limit nobody can meet).

**Window: a sliding log.** A rule "N per P" allows an action at ``now`` when fewer than N of the
client's counted actions happened in ``(now - P, now]``; equivalently, when the N-th most recent one is
at or before ``now - P``. A fixed window (count since the top of the hour) lets a client spend 2N
around each boundary, and a sliding-window *counter* only approximates; the log is exact, and it needs
no table of its own: the store answers one indexed query per rule over the rows it already keeps
(votes and battles carry ``client_hash`` and ``created_at``)::

    SELECT created_at FROM votes
    WHERE client_hash = :client AND created_at > :since      -- since = window_start(rule, now)
    ORDER BY created_at DESC LIMIT 1 OFFSET :offset          -- offset = rule.amount - 1

which reads at most ``amount`` index entries of an index on ``(client_hash, created_at)``. Its result
(or ``None``) is what :func:`decide` takes per rule. When refused, the action is allowed again exactly
at that time + P: a refused action stores nothing, so nothing else enters the window meanwhile.
With several rules the answer is the latest such time among the rules that refuse.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_SEPARATOR = re.compile(r"[;,|]")  # limits' own separators; `;` is the documented one
MAX_AMOUNT = 1_000_000_000
MAX_PERIOD_S = 366 * 86_400  # a longer window is a typo, and would overflow date arithmetic
_UNITS = "second, minute, hour, day (also month, year)"


class RateLimitSyntaxError(ValueError):
    """A rate-limit setting that cannot be parsed; the message names the bad part."""


@dataclass(frozen=True)
class RateRule:
    """At most ``amount`` actions in any ``period_s``-second sliding window."""

    amount: int
    period_s: int
    unit: str  # "second", "minute", "hour", "day", "month" or "year"
    multiple: int  # period_s = multiple * seconds per unit

    @property
    def notation(self) -> str:
        """Canonical notation (``60/hour``, ``10/5 minutes``); parses back to an equal rule."""
        return (
            f"{self.amount}/{self.unit}"
            if self.multiple == 1
            else f"{self.amount}/{self.multiple} {self.unit}s"
        )

    @property
    def per(self) -> str:
        """``per hour`` / ``per 5 minutes``, for sentences."""
        return f"per {self.unit}" if self.multiple == 1 else f"per {self.multiple} {self.unit}s"


@dataclass(frozen=True)
class RateLimit:
    """Rules that must all allow an action; no rule means ``off``."""

    rules: tuple[RateRule, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.rules)

    def __str__(self) -> str:
        return "; ".join(r.notation for r in self.rules) if self.rules else "off"


OFF = RateLimit()


def parse_rate_limit(text: str) -> RateLimit:
    """Parse a setting such as ``60/hour``, ``10/minute; 500/day`` or ``off``.

    Raises :class:`RateLimitSyntaxError` naming the part that is wrong."""
    from limits import parse  # imported here: it pulls in the package's storage layers (~80 ms)

    if not isinstance(text, str):
        raise RateLimitSyntaxError(f"a rate limit must be text, got {type(text).__name__}")
    stripped = text.strip()
    if stripped.lower() == "off":
        return OFF
    if not stripped:
        raise RateLimitSyntaxError("empty rate limit: write e.g. '60/hour', or 'off' to disable it")
    rules: list[RateRule] = []
    for raw in _SEPARATOR.split(stripped):
        part = raw.strip()
        if not part:
            raise RateLimitSyntaxError(f"empty rule in {text!r}: remove the extra separator")
        if part.lower() == "off":
            raise RateLimitSyntaxError(f"'off' cannot be combined with other rules in {text!r}")
        try:
            item = parse(part)
        except ValueError as exc:
            raise RateLimitSyntaxError(
                f"cannot read rate limit rule {part!r}: write N/unit or 'N per unit' with unit one of "
                f"{_UNITS}, e.g. '60/hour' ({exc})"
            ) from exc
        if not 1 <= item.amount <= MAX_AMOUNT:
            raise RateLimitSyntaxError(
                f"rate limit rule {part!r}: the amount must be between 1 and {MAX_AMOUNT} "
                "(to disable the limit, write 'off')"
            )
        if not 1 <= item.get_expiry() <= MAX_PERIOD_S:
            raise RateLimitSyntaxError(f"rate limit rule {part!r}: the period must be 1 second to 366 days")
        rules.append(RateRule(item.amount, item.get_expiry(), item.GRANULARITY.name, item.multiples))
    return RateLimit(tuple(rules))


def window_start(rule: RateRule, now: datetime) -> datetime:
    """The exclusive lower bound of the rule's window: actions after it count."""
    return _utc(now) - timedelta(seconds=rule.period_s)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_at: datetime | None = None  # UTC; None when allowed
    rule: RateRule | None = None  # the refusing rule that frees up last

    def retry_after_s(self, now: datetime) -> float:
        """Seconds until the action is allowed (0 when it is)."""
        if self.retry_at is None:
            return 0.0
        return max(0.0, (self.retry_at - _utc(now)).total_seconds())


ALLOWED = Decision(True)


def decide(limit: RateLimit, nth_latest: Sequence[datetime | None], now: datetime) -> Decision:
    """Allow or refuse one more action.

    ``nth_latest[i]``: the time of the client's ``rules[i].amount``-th most recent counted action (the
    query in the module docstring), or ``None`` when there are fewer; a time at or before the rule's
    window start means the window has room."""
    if len(nth_latest) != len(limit.rules):
        raise ValueError(f"need one time per rule: {len(limit.rules)} rules, {len(nth_latest)} times")
    now = _utc(now)
    worst: Decision = ALLOWED
    for rule, t in zip(limit.rules, nth_latest, strict=True):
        if t is None:
            continue
        free_at = _utc(t) + timedelta(seconds=rule.period_s)
        if free_at > now and (worst.retry_at is None or free_at > worst.retry_at):
            worst = Decision(False, free_at, rule)
    return worst


@dataclass(frozen=True)
class ActionWords:
    """How the refusal sentence names the action: "the limit of 60 battles per hour; you can start
    another at ..."."""

    plural: str
    again: str


BATTLES = ActionWords("battles", "start another")
VOTES = ActionWords("votes", "vote again")


def refusal_message(decision: Decision, words: ActionWords, now: datetime) -> str:
    """The user-facing status for a refused action, e.g. "⚠️ You reached the limit of 60 battles per
    hour; you can start another at 14:05 UTC." The time is rounded up to the minute (never too early);
    under a minute away it says how many seconds, another day adds the date."""
    if decision.allowed or decision.retry_at is None or decision.rule is None:
        raise ValueError("only a refused decision has a refusal message")
    rule, now = decision.rule, _utc(now)
    wait = decision.retry_after_s(now)
    if wait < 60:
        s = max(1, math.ceil(wait))
        when = f"in {s} second{'s' if s != 1 else ''}"
    else:
        at = decision.retry_at
        if at.second or at.microsecond:
            at = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
        when = f"at {at:%H:%M} UTC" if at.date() == now.date() else f"on {at:%Y-%m-%d} at {at:%H:%M} UTC"
    unit = words.plural if rule.amount != 1 else words.plural.removesuffix("s")
    return f"⚠️ You reached the limit of {rule.amount} {unit} {rule.per}; you can {words.again} {when}."


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError("naive datetime in a rate-limit decision; use timezone-aware UTC times")
    return t.astimezone(UTC)
