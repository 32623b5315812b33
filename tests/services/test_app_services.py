"""AppServices as the UI's one entrance: model catalogue, pickable names, user parameters."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from arena_app.services.app_services import AppServices
from arena_app.services.catalogue import ModelCard
from arena_app.services.errors import InputRejected
from tests.services.conftest import endpoints_for


def test_catalogue_describes_every_model_without_upstream_details(
    make_services: Callable[..., AppServices], fake_openai
) -> None:
    endpoints = endpoints_for(
        fake_openai.base_url,
        gamma={
            "model_name": "gamma-up",
            "battle": False,
            "license": "Apache-2.0",
            "link": "https://example.org/gamma",
            "description": "A chat-only model.",
        },
        heavy={"model_name": "heavy-up", "anony_only": True},
    )
    services = make_services(endpoints)
    cards = services.catalogue()
    assert [c.name for c in cards] == ["alpha", "beta", "gamma", "heavy"]  # endpoint-file order
    gamma = cards[2]
    assert gamma == ModelCard(
        name="gamma",
        organization=None,
        license="Apache-2.0",
        link="https://example.org/gamma",
        description="A chat-only model.",
        battle=False,
        chat=True,
    )
    assert cards[0].organization == "Alphacorp" and cards[0].battle and cards[0].chat
    assert not cards[3].chat  # anony_only: battles only
    blob = repr(cards)
    for hidden in ("alpha-up", "gamma-up", "sk-test-secret", str(fake_openai.port)):
        assert hidden not in blob
    assert services.chat_model_names() == ["alpha", "beta", "gamma"]


def test_user_params_outside_the_allowed_ranges_are_refused(
    make_services: Callable[..., AppServices],
) -> None:
    """An API client can send what no slider holds: refused, never silently changed (nor sent upstream)."""
    services = make_services(max_new_tokens=100)
    for bad in ((9.0, 1.0, 100), (0.7, -1.0, 100), (0.7, 1.0, 10_000), (0.3, 0.9, 0)):
        with pytest.raises(InputRejected, match="must be between"):
            services.user_params(*bad)
    params = services.user_params(temperature=2.0, top_p=0.0, max_new_tokens=400)
    assert (params.temperature, params.top_p, params.max_new_tokens) == (2.0, 0.0, 400)


def test_recommended_params_start_the_sliders_and_keep_what_they_do_not_show(
    make_services: Callable[..., AppServices], fake_openai
) -> None:
    endpoints = endpoints_for(
        fake_openai.base_url,
        greedy={
            "model_name": "greedy-up",
            "recommended_config": {"temperature": 0.0, "max_new_tokens": 256, "stop": ["</s>"]},
        },
    )
    services = make_services(endpoints, max_new_tokens=100)
    rec = services.recommended_params("greedy")
    assert (rec.temperature, rec.top_p, rec.max_new_tokens) == (0.0, 1.0, 256)
    # a model without recommended_config starts at the operator's defaults; so does no model at all
    for name in ("alpha", None, "no-such-model"):
        plain = services.recommended_params(name)
        assert (plain.temperature, plain.top_p, plain.max_new_tokens) == (0.7, 1.0, 100)
    # what the user chose on the sliders, plus the model's own stop strings (not a slider)
    chosen = services.user_params(0.4, 0.9, 50, "greedy")
    assert (chosen.temperature, chosen.top_p, chosen.max_new_tokens, chosen.stop) == (0.4, 0.9, 50, ("</s>",))
    assert services.user_params(0.4, 0.9, 50).stop == ()
