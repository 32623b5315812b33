"""Share links of voted battles: real SQLite and PostgreSQL, real battle service, loopback fake OpenAI."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from arena_app.domain import Outcome
from arena_app.services.app_services import AppServices
from arena_app.services.client_id import ClientIdentity
from arena_app.services.errors import NotFound
from arena_app.services.share import NO_SUCH_LINK, ShareLinks
from tests.services.helpers import drain


def test_link_opens_only_a_voted_battle_and_a_forged_one_is_refused(
    make_services: Callable[..., AppServices], db_url: str, client: ClientIdentity
) -> None:
    services = make_services(database_url=db_url)
    share = services.share
    assert share is not None and share.enabled
    state = services.battle.new_state()
    drain(services.battle.send(state, "first question", client))
    drain(services.battle.send(state, "second question", client))
    assert state.battle_id is not None
    token = share.token_for(state.battle_id)
    assert token is not None
    with pytest.raises(NotFound, match="does not exist"):
        share.open(token)  # no vote yet: the link does not exist
    services.battle.vote(state, "b", client)

    shared = share.open(token)
    assert shared.models == (state.sides[0].model, state.sides[1].model)
    assert [user for user, _ in shared.turns] == ["first question", "second question"]
    assert [answers for _, answers in shared.turns] == [list(pair) for _, pair in state.turns]
    assert shared.outcome == Outcome.MODEL_B
    assert client.session_id not in repr(shared) and client.client_hash not in repr(shared)

    battle_id, tag = token.split("-")
    forged = [
        f"{battle_id}-{'0' * 32}",  # a guessed tag
        f"{int(battle_id) + 1}-{tag}",  # the real tag moved to another id
        f"{battle_id}-{tag.upper()}",
        battle_id,
        "",
        "1-" + "a" * 31 + "' OR 1=1 --",
    ]
    for bad in forged:
        with pytest.raises(NotFound) as info:
            share.open(bad)
        assert str(info.value) == NO_SUCH_LINK  # one message: a probe learns nothing


def test_operator_can_turn_links_off(
    make_services: Callable[..., AppServices], client: ClientIdentity
) -> None:
    on = make_services()
    state = on.battle.new_state()
    drain(on.battle.send(state, "hello", client))
    on.battle.vote(state, "tie", client)
    assert on.share is not None and state.battle_id is not None
    token = on.share.token_for(state.battle_id)
    assert token is not None and on.share.open(token).outcome == Outcome.TIE

    off = make_services(share_links=False)
    assert off.share is not None and off.share.token_for(state.battle_id) is None
    with pytest.raises(NotFound):
        off.share.open(token)  # an existing link stops working too


def test_keys_differ_so_tokens_of_another_arena_are_refused(
    make_services: Callable[..., AppServices], client: ClientIdentity
) -> None:
    services = make_services()
    state = services.battle.new_state()
    drain(services.battle.send(state, "hello", client))
    services.battle.vote(state, "a", client)
    assert state.battle_id is not None
    foreign = ShareLinks(services.session_factory, "another-key", enabled=True).token_for(state.battle_id)
    assert services.share is not None and foreign is not None
    with pytest.raises(NotFound):
        services.share.open(foreign)
