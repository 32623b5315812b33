"""Per-client rate limits on battles and votes, through the real services on SQLite and PostgreSQL.

A refused action stores nothing; the budget belongs to the client hash (every session of one address),
it frees up as the sliding window moves on (rows back-dated with SQL), and concurrent requests of one
client cannot overspend it (threads, each its own transaction).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from arena_app.services.app_services import AppServices
from arena_app.services.battle_state import BattleState
from arena_app.services.client_id import ClientIdentity
from arena_app.services.errors import RateLimited
from arena_app.services.rate_limit_rules import RateLimitSyntaxError, parse_rate_limit
from arena_app.settings import load_settings
from arena_app.storage.models import Battle, Vote
from tests.services.helpers import drain, rows

WHEN = re.compile(r"you can (start another|vote again) (in \d+ seconds?|at \d\d:\d\d UTC)\.$")


def _counts(services: AppServices) -> dict[str, int]:
    return {
        t: rows(services, f"SELECT COUNT(*) AS n FROM {t}")[0]["n"]
        for t in ("battles", "conversations", "messages", "votes")
    }


def _battle(services: AppServices, client: ClientIdentity, prompt: str = "hello") -> BattleState:
    state = services.battle.new_state()
    drain(services.battle.send(state, prompt, client))
    return state


def _backdate(services: AppServices, model: type[Battle] | type[Vote], seconds: int) -> None:
    """Move every row of ``model`` ``seconds`` into the past (as if that much time had passed)."""
    with services.session_factory() as s:
        for row in s.scalars(select(model)):
            row.created_at = row.created_at - timedelta(seconds=seconds)
        s.commit()


def test_battles_beyond_the_limit_are_refused_and_store_nothing(
    make_services: Callable[..., AppServices], db_url: str, client: ClientIdentity
) -> None:
    services = make_services(database_url=db_url, rate_limit_battles="3/hour", rate_limit_votes="off")
    first = _battle(services, client)
    for _ in range(2):
        _battle(services, client)
    before = _counts(services)

    state = services.battle.new_state()
    with pytest.raises(RateLimited) as refused:
        drain(services.battle.send(state, "one too many", client))
    message = str(refused.value)
    assert message.startswith("You reached the limit of 3 battles per hour;"), message
    assert WHEN.search(message), message
    assert 3500 < refused.value.retry_after_s <= 3600
    assert _counts(services) == before  # no battle, conversation or message of the refused one
    assert state.battle_id is None and state.turns == []

    # another session of the same address shares the budget; another address has its own
    other_session = ClientIdentity(session_id="session-2", client_hash=client.client_hash)
    with pytest.raises(RateLimited):
        drain(services.battle.send(services.battle.new_state(), "again", other_session))
    _battle(services, ClientIdentity(session_id="session-3", client_hash="e" * 64))
    # a later turn of a battle already started is not a new battle
    drain(services.battle.send(first, "a second turn", client))
    assert len(first.turns) == 2


def test_the_window_slides_the_budget_frees_up_as_old_battles_age(
    make_services: Callable[..., AppServices], db_url: str, client: ClientIdentity
) -> None:
    services = make_services(database_url=db_url, rate_limit_battles="2/minute; 3/hour")
    _battle(services, client)
    _battle(services, client)
    with pytest.raises(RateLimited, match="limit of 2 battles per minute"):
        _battle(services, client)
    _backdate(services, Battle, 61)  # the minute rule has room again
    _battle(services, client)
    with pytest.raises(RateLimited, match="limit of 3 battles per hour; you can start another at"):
        _battle(services, client)
    _backdate(services, Battle, 3600)
    _battle(services, client)
    assert _counts(services)["battles"] == 4


def test_votes_beyond_the_limit_are_refused_the_battle_can_be_voted_later(
    make_services: Callable[..., AppServices], db_url: str, client: ClientIdentity
) -> None:
    services = make_services(database_url=db_url, rate_limit_battles="off", rate_limit_votes="2/hour")
    states = [_battle(services, client) for _ in range(3)]
    services.battle.vote(states[0], "a", client)
    services.battle.vote(states[1], "tie", client)
    with pytest.raises(RateLimited) as refused:
        services.battle.vote(states[2], "b", client)
    assert str(refused.value).startswith("You reached the limit of 2 votes per hour; you can vote again")
    assert _counts(services)["votes"] == 2
    assert states[2].outcome is None  # the state still accepts the vote later
    _backdate(services, Vote, 3600)
    services.battle.vote(states[2], "b", client)
    assert [r["outcome"] for r in rows(services, "SELECT outcome FROM votes ORDER BY id")][-1] == "model_b"


@pytest.mark.parametrize("action", ["battle", "vote"])
def test_concurrent_requests_of_one_client_cannot_overspend(
    make_services: Callable[..., AppServices], db_url: str, client: ClientIdentity, action: str
) -> None:
    limit, attempts = 4, 10
    services = make_services(
        database_url=db_url,
        rate_limit_battles=f"{limit}/hour" if action == "battle" else "off",
        rate_limit_votes=f"{limit}/hour" if action == "vote" else "off",
    )
    states = [_battle(services, client) for _ in range(attempts)] if action == "vote" else []
    barrier = threading.Barrier(attempts)
    outcomes: list[str] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        session = ClientIdentity(session_id=f"s{i}", client_hash=client.client_hash)
        barrier.wait()
        try:
            if action == "battle":
                drain(services.battle.send(services.battle.new_state(), f"p{i}", session))
            else:
                services.battle.vote(states[i], "a", session)
            result = "ok"
        except RateLimited:
            result = "limited"
        except Exception as exc:  # recorded so the assertion shows it
            result = repr(exc)
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["limited"] * (attempts - limit) + ["ok"] * limit, outcomes
    counts = _counts(services)
    assert counts["battles" if action == "battle" else "votes"] == limit


def test_off_means_no_limit_and_bad_notation_is_refused_at_start(
    make_services: Callable[..., AppServices], client: ClientIdentity
) -> None:
    services = make_services(rate_limit_battles="off", rate_limit_votes="off")
    for _ in range(4):
        services.battle.vote(_battle(services, client), "a", client)
    assert _counts(services)["votes"] == 4
    assert load_settings().rate_limit_battles == "60/hour" == load_settings().rate_limit_votes
    with pytest.raises(ValueError, match="cannot read rate limit rule '60/fortnight'"):
        load_settings(rate_limit_votes="60/fortnight")
    with pytest.raises(RateLimitSyntaxError, match="between 1 and"):
        parse_rate_limit("0/hour")
