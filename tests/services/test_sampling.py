"""Battle pair sampling: by endpoint weight, two different models, random sides, eligibility rules."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from arena_app.services.app_services import AppServices
from arena_app.services.client_id import ClientIdentity
from arena_app.services.sampling import NoModelsAvailable, sample_pair
from tests.services.conftest import endpoints_for


@dataclass
class M:
    name: str
    weight: float


def test_sample_pair_follows_weights_closed_form() -> None:
    # weights a=1, b=1, c=2: P(c in pair) = 1/2 + 2 * (1/4 * 2/3) = 5/6;
    # P(a in pair) = 1/4 + 1/4 * 1/3 + 1/2 * 1/2 = 7/12
    models = [M("a", 1), M("b", 1), M("c", 2), M("zero", 0)]
    rng = np.random.default_rng(1234)
    n = 8000
    pairs = [sample_pair(models, rng) for _ in range(n)]
    assert all(x.name != y.name for x, y in pairs)
    assert not any("zero" in (x.name, y.name) for x, y in pairs)
    inclusion = Counter(m.name for pair in pairs for m in pair)
    assert inclusion["c"] / n == pytest.approx(5 / 6, abs=0.02)
    assert inclusion["a"] / n == pytest.approx(7 / 12, abs=0.02)
    side_a = Counter(x.name for x, _ in pairs)
    # random sides: a model is on side A in half of its battles
    for name in ("a", "b", "c"):
        assert side_a[name] / inclusion[name] == pytest.approx(0.5, abs=0.03)


def test_sample_pair_is_reproducible_with_a_seeded_generator() -> None:
    models = [M("a", 1), M("b", 2), M("c", 3)]
    first = [tuple(m.name for m in sample_pair(models, np.random.default_rng(7))) for _ in range(3)]
    assert len(set(first)) == 1


def test_fewer_than_two_models_is_a_clear_error() -> None:
    with pytest.raises(NoModelsAvailable, match="Fewer than two models"):
        sample_pair([M("a", 1), M("b", 0)], np.random.default_rng(0))


def test_registry_rules_chat_only_and_zero_weight_never_battle(
    make_services: Callable[..., AppServices], fake_openai
) -> None:
    endpoints = endpoints_for(
        fake_openai.base_url,
        gamma={"model_name": "gamma-up", "battle": False},
        delta={"model_name": "delta-up", "weight": 0},
        heavy={"model_name": "heavy-up", "weight": 5, "anony_only": True},
    )
    services = make_services(endpoints)
    seen: Counter[str] = Counter()
    for _ in range(300):
        a, b = services.picker.pick_pair()
        seen.update([a.name, b.name])
    assert set(seen) == {"alpha", "beta", "heavy"}
    assert seen["heavy"] > seen["alpha"]
    assert "heavy" not in services.chat_model_names()  # anony_only: battles only
    assert "gamma" in services.chat_model_names()


def test_battles_use_the_operator_token_limit_unless_the_entry_sets_one(
    make_services: Callable[..., AppServices], fake_openai
) -> None:
    from tests.services.helpers import drain

    endpoints = endpoints_for(fake_openai.base_url)
    endpoints["beta"]["recommended_config"] = {"max_new_tokens": 200}
    services = make_services(endpoints, max_new_tokens=77)  # ARENA_MAX_NEW_TOKENS=77
    drain(services.battle.send(services.battle.new_state(), "hi", ClientIdentity("s", "h")))
    sent = {r.body["model"]: r.body["max_tokens"] for r in fake_openai.requests[-2:]}
    assert sent == {"alpha-up": 77, "beta-up": 200}
