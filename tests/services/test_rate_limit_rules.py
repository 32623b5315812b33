"""Rate-limit notation (the `limits` package's) and the sliding-log allow-or-refuse decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from arena_app.services.rate_limit_rules import (
    BATTLES,
    OFF,
    VOTES,
    Decision,
    RateLimit,
    RateLimitSyntaxError,
    RateRule,
    decide,
    parse_rate_limit,
    refusal_message,
    window_start,
)

NOW = datetime(2026, 3, 1, 13, 20, 30, tzinfo=UTC)
HOUR = RateRule(60, 3600, "hour", 1)


@pytest.mark.parametrize(
    ("text", "rules"),
    [
        ("60/hour", [(60, 3600)]),
        ("60 per hour", [(60, 3600)]),
        (" 60 / HOUR ", [(60, 3600)]),
        ("1/second", [(1, 1)]),
        ("10/minute; 500/day", [(10, 60), (500, 86_400)]),
        ("10/5 minutes", [(10, 300)]),
        ("3 per 2 days", [(3, 172_800)]),
        ("5/minutes", [(5, 60)]),
    ],
)
def test_the_limits_notation_parses_into_typed_rules(text, rules):
    limit = parse_rate_limit(text)
    assert [(r.amount, r.period_s) for r in limit.rules] == rules
    assert limit.enabled
    assert parse_rate_limit(str(limit)) == limit  # the canonical form round-trips


def test_canonical_notation_and_off():
    assert str(parse_rate_limit("10 per 5 minutes;60 per hour")) == "10/5 minutes; 60/hour"
    assert parse_rate_limit("off") == OFF == parse_rate_limit(" OFF ")
    assert not OFF.enabled and str(OFF) == "off"
    assert HOUR.per == "per hour" and parse_rate_limit("2/3 hours").rules[0].per == "per 3 hours"
    r = parse_rate_limit("60/hour").rules[0]
    with pytest.raises(AttributeError):
        r.amount = 61  # type: ignore[misc]  # frozen


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("", "empty rate limit"),
        ("   ", "empty rate limit"),
        ("60/hr", "'60/hr'"),
        ("60/hour; 5/fortnight", "'5/fortnight'"),
        ("60/hour;; 5/day", "empty rule"),
        ("sixty/hour", "'sixty/hour'"),
        ("60 hour", "'60 hour'"),
        ("60/hour 10/day", "'60/hour 10/day'"),
        ("0/hour", "between 1 and"),
        ("-5/hour", "'-5/hour'"),
        ("99999999999/hour", "between 1 and"),
        ("1/400 days", "366 days"),
        ("off; 60/hour", "cannot be combined"),
    ],
)
def test_bad_notation_is_refused_with_a_message_naming_the_bad_part(text, names):
    with pytest.raises(RateLimitSyntaxError) as err:
        parse_rate_limit(text)
    assert names in str(err.value)
    assert isinstance(err.value, ValueError)  # pydantic validators turn ValueError into a field error


def test_not_text_is_refused():
    with pytest.raises(RateLimitSyntaxError, match="must be text"):
        parse_rate_limit(60)  # type: ignore[arg-type]


# ---- the decision ---------------------------------------------------------------------------------------


def test_fewer_actions_than_the_amount_in_the_window_allow():
    limit = RateLimit((HOUR,))
    assert decide(limit, [None], NOW).allowed
    # the 60th most recent action is exactly one hour old: it has left the window (now - P, now]
    assert decide(limit, [NOW - timedelta(hours=1)], NOW).allowed
    assert decide(OFF, [], NOW) == Decision(True)


def test_a_full_window_refuses_until_the_nth_latest_action_is_one_period_old():
    limit = RateLimit((HOUR,))
    nth = NOW - timedelta(minutes=15, seconds=10)
    d = decide(limit, [nth], NOW)
    assert not d.allowed and d.rule == HOUR
    assert d.retry_at == nth + timedelta(hours=1)
    assert d.retry_after_s(NOW) == pytest.approx(44 * 60 + 50)
    assert decide(limit, [nth], d.retry_at).allowed  # sliding: free exactly then, not at the top of the hour
    assert d.retry_after_s(d.retry_at + timedelta(seconds=5)) == 0.0


def test_with_several_rules_the_latest_refusal_wins():
    minute = RateRule(5, 60, "minute", 1)
    day = RateRule(500, 86_400, "day", 1)
    limit = RateLimit((minute, HOUR, day))
    times = [NOW - timedelta(seconds=20), NOW - timedelta(minutes=50), None]
    d = decide(limit, times, NOW)
    assert d.rule == HOUR and d.retry_at == NOW + timedelta(minutes=10)
    d = decide(limit, [NOW - timedelta(seconds=20), None, NOW - timedelta(hours=2)], NOW)
    assert d.rule == day and d.retry_at == NOW + timedelta(hours=22)
    assert decide(limit, [NOW - timedelta(seconds=61), None, None], NOW).allowed


def test_decide_checks_its_inputs():
    with pytest.raises(ValueError, match="one time per rule"):
        decide(RateLimit((HOUR,)), [], NOW)
    with pytest.raises(ValueError, match="naive"):
        decide(RateLimit((HOUR,)), [None], datetime(2026, 3, 1, 12, 0))
    other_zone = NOW.astimezone(timezone(timedelta(hours=2)))
    assert decide(RateLimit((HOUR,)), [other_zone - timedelta(minutes=1)], NOW).retry_at == (
        NOW + timedelta(minutes=59)
    )
    assert window_start(HOUR, NOW) == NOW - timedelta(hours=1)


# ---- the sentence ---------------------------------------------------------------------------------------


def test_the_refusal_sentence_says_the_limit_and_when_to_come_back():
    d = decide(RateLimit((HOUR,)), [NOW - timedelta(minutes=15, seconds=10)], NOW)  # free at 14:05:20
    assert refusal_message(d, BATTLES, NOW) == (
        "⚠️ You reached the limit of 60 battles per hour; you can start another at 14:06 UTC."
    )  # rounded up: at 14:05 it would still be refused
    d = Decision(False, NOW.replace(hour=14, minute=5, second=0), HOUR)
    assert (
        refusal_message(d, VOTES, NOW)
        == "⚠️ You reached the limit of 60 votes per hour; you can vote again at 14:05 UTC."
    )


def test_the_refusal_sentence_for_seconds_other_days_and_one_action():
    one = RateRule(1, 10, "second", 10)
    d = decide(RateLimit((one,)), [NOW - timedelta(seconds=3)], NOW)
    assert (
        refusal_message(d, VOTES, NOW)
        == "⚠️ You reached the limit of 1 vote per 10 seconds; you can vote again in 7 seconds."
    )
    d = Decision(False, NOW + timedelta(seconds=0.2), one)
    assert refusal_message(d, VOTES, NOW).endswith("in 1 second.")
    day = RateRule(500, 86_400, "day", 1)
    d = Decision(False, datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC), day)
    assert refusal_message(d, BATTLES, NOW) == (
        "⚠️ You reached the limit of 500 battles per day; you can start another on 2026-03-02 at 09:00 UTC."
    )
    with pytest.raises(ValueError, match="refused"):
        refusal_message(Decision(True), BATTLES, NOW)
