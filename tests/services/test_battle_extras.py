"""The battle tab's extras as text: the pool's descriptions (never with fewer than three models)."""

from __future__ import annotations

from collections.abc import Callable

from arena_app.services.app_services import AppServices
from arena_app.ui.battle_extras import pool_descriptions
from tests.services.conftest import endpoints_for


def test_pool_lists_battle_models_with_descriptions_only_when_three_or_more(
    make_services: Callable[..., AppServices], fake_openai
) -> None:
    two = make_services(endpoints_for(fake_openai.base_url, gamma={"model_name": "g-up", "battle": False}))
    text = pool_descriptions(two)
    assert "alpha" not in text and "2 models" in text  # two would name both sides of every battle

    three = make_services(
        endpoints_for(
            fake_openai.base_url,
            gamma={
                "model_name": "gamma-up",
                "organization": "Gammaco",
                "description": "A careful *model*.",
                "link": "https://example.org/gamma",
            },
            delta={"model_name": "delta-up", "battle": False, "description": "chat only"},
        )
    )
    text = pool_descriptions(three)
    for shown in (
        "`alpha`",
        "`beta`",
        "`gamma`",
        "`Gammaco`",
        "A careful *model*.",
        "https://example.org/gamma",
    ):
        assert shown in text
    assert "delta" not in text and "gamma-up" not in text  # not in battles; never an upstream name
