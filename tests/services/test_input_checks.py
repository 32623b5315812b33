"""Input checks before any provider call: generation parameters, NUL and unpaired surrogates, and the
side-by-side pair; through the real services on both databases (nothing is stored, no model is asked)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from arena_app.services.answers import displayable
from arena_app.services.app_services import AppServices
from arena_app.services.client_id import ClientIdentity
from arena_app.services.errors import InputRejected
from tests.fakes.openai_server import OpenAIFakeServer
from tests.services.helpers import drain, rows


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ((math.nan, 1.0, 256), "Temperature must be a finite number"),
        ((0.7, math.inf, 256), "Top p must be a finite number"),
        ((0.7, 1.0, -math.inf), "Max output tokens must be a finite number"),
        ((2.5, 1.0, 256), "Temperature must be between 0 and 2; 2.5 is out of range"),
        ((0.7, -0.1, 256), "Top p must be between 0 and 1"),
        ((0.7, 1.0, 0), "Max output tokens must be between 1 and"),
        (("hot", 1.0, 256), "Temperature must be a number"),
        ((None, 1.0, 256), "Temperature must be a number"),
    ],
)
def test_bad_parameters_are_refused_before_any_provider_call(
    services: AppServices, fake_openai: OpenAIFakeServer, params: tuple[object, ...], message: str
) -> None:
    with pytest.raises(InputRejected, match=message):
        services.user_params(*params)  # type: ignore[arg-type]
    assert fake_openai.requests == []
    ok = services.user_params(2.0, 0.0, 1024.0)
    assert (ok.temperature, ok.top_p, ok.max_new_tokens) == (2.0, 0.0, 1024)


@pytest.mark.parametrize(
    ("text", "message"),
    [("a\x00b", "NUL character"), ("half \ud83d emoji", "unpaired UTF-16 surrogate"), ("\udc00", "unpaired")],
)
def test_nul_and_unpaired_surrogates_are_refused_and_nothing_is_stored(
    make_services: Callable[..., AppServices],
    db_url: str,
    client: ClientIdentity,
    fake_openai: OpenAIFakeServer,
    text: str,
    message: str,
) -> None:
    services = make_services(database_url=db_url)
    with pytest.raises(InputRejected, match=message):
        drain(services.battle.send(services.battle.new_state(), text, client))
    with pytest.raises(InputRejected, match=message):
        drain(
            services.chat.send(
                services.chat.new_state(), text, "alpha", services.user_params(0.7, 1, 64), client
            )
        )
    assert rows(services, "SELECT COUNT(*) AS n FROM messages")[0]["n"] == 0
    assert fake_openai.requests == []
    assert displayable(text).encode("utf-8")  # what goes back into the input box encodes
    drain(services.battle.send(services.battle.new_state(), "a valid 😀 emoji", client))


def test_side_by_side_refuses_the_same_model_twice(
    make_services: Callable[..., AppServices], db_url: str, client: ClientIdentity
) -> None:
    services = make_services(database_url=db_url)
    state = services.named.new_state("named")
    with pytest.raises(InputRejected, match="two different models"):
        drain(services.named.send(state, "hi", client, models=["alpha", "alpha"]))
    assert rows(services, "SELECT COUNT(*) AS n FROM battles")[0]["n"] == 0
