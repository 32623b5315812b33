"""Choosing models: the anonymous pair (by endpoint weight by default; other modes in
:mod:`arena_app.services.pair_sampling`), and validated picks for named modes."""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np

from arena_app.providers.base import GenerationParams
from arena_app.providers.model_info import ModelInfo
from arena_app.services.errors import InputRejected

if TYPE_CHECKING:  # pair_sampling imports this module (sample_pair): no cycle at run time
    from arena_app.services.pair_sampling import PairSampler, SampledPair


class Weighted(Protocol):
    @property
    def weight(self) -> float: ...


W = TypeVar("W", bound=Weighted)


class ModelSource(Protocol):
    def battle_models(self) -> list[ModelInfo]: ...
    def chat_models(self) -> list[ModelInfo]: ...


class NoModelsAvailable(InputRejected):
    pass


def sample_pair(models: Sequence[W], rng: np.random.Generator) -> tuple[W, W]:
    """Two different models, each drawn with probability proportional to its weight; sides at random.

    The first draw is by weight, the second by weight among the rest; the order is then shuffled so that
    neither side is biased towards heavier models.
    """
    pool = [m for m in models if float(m.weight) > 0]
    if len(pool) < 2:
        raise NoModelsAvailable(
            "Fewer than two models are available for battles right now; please try again later."
        )
    weights = np.array([float(m.weight) for m in pool])
    first = int(rng.choice(len(pool), p=weights / weights.sum()))
    rest = [i for i in range(len(pool)) if i != first]
    rest_w = weights[rest]
    second = rest[int(rng.choice(len(rest), p=rest_w / rest_w.sum()))]
    pair = (pool[first], pool[second])
    return pair if rng.random() < 0.5 else (pair[1], pair[0])


class ModelPicker:
    """Registry access for the services. ``rng`` is shared, so draws are serialised by a lock.

    ``sampler`` draws the anonymous pairs (:mod:`arena_app.services.pair_sampling`; default: by endpoint
    weight, the ``weighted`` mode)."""

    def __init__(
        self,
        registry: ModelSource,
        rng: np.random.Generator,
        max_new_tokens: int,
        sampler: PairSampler | None = None,
    ) -> None:
        from arena_app.services.pair_sampling import WeightedSampler

        self._registry = registry
        self._rng = rng
        self._lock = threading.Lock()
        self._max_new_tokens = max_new_tokens
        self.sampler: PairSampler = sampler if sampler is not None else WeightedSampler()

    def pick_battle(self) -> SampledPair:
        """The two models of a new anonymous battle (random sides) and the weight the battle records."""
        models = list(self._registry.battle_models())
        with self._lock:
            return self.sampler.draw(models, self._rng)

    def pick_pair(self) -> tuple[ModelInfo, ModelInfo]:
        picked = self.pick_battle()
        return picked.a, picked.b

    def chat_names(self) -> list[str]:
        return [m.name for m in self._registry.chat_models()]

    def chat_model(self, name: str) -> ModelInfo:
        for model in self._registry.chat_models():
            if model.name == name:
                return model
        raise InputRejected(f"Model {name!r} is not available; pick one from the list.")

    def find_model(self, name: str) -> ModelInfo | None:
        """A configured model (battle or chat) by name, or None when it is no longer configured."""
        for model in [*self._registry.battle_models(), *self._registry.chat_models()]:
            if model.name == name:
                return model
        return None

    def params_for(self, model: ModelInfo) -> GenerationParams:
        """The model's parameters: its endpoint entry's recommended_config over the registry's defaults."""
        return model.params

    @property
    def max_tokens_limit(self) -> int:
        """The most output tokens a user may ask for (the slider's maximum)."""
        return self._max_new_tokens * 4

    def user_params(
        self, temperature: float, top_p: float, max_new_tokens: float, model: str | None = None
    ) -> GenerationParams:
        """Parameters chosen in the UI, checked before any provider sees them: each must be a finite
        number in its slider's range (:class:`InputRejected` says which is not; an API client can send
        anything, NaN included).

        With ``model``, what the sliders do not show (the recommended ``stop`` strings and ``extra_body``)
        stays the model's own, so choosing a model by name never loses part of its configuration."""
        base = self.chat_model(model).params if model else GenerationParams()
        return GenerationParams(
            temperature=checked_number("Temperature", temperature, 0.0, 2.0),
            top_p=checked_number("Top p", top_p, 0.0, 1.0),
            max_new_tokens=round(
                checked_number("Max output tokens", max_new_tokens, 1, self.max_tokens_limit)
            ),
            stop=base.stop,
            extra_body=dict(base.extra_body),
        )

    def _clamped(self, params: GenerationParams) -> GenerationParams:
        """The operator's or a model's configured parameters, clamped to the sliders' ranges."""
        return GenerationParams(
            temperature=min(max(params.temperature, 0.0), 2.0),
            top_p=min(max(params.top_p, 0.0), 1.0),
            max_new_tokens=min(max(params.max_new_tokens, 1), self.max_tokens_limit),
        )

    def recommended_params(self, model: str | None) -> GenerationParams:
        """What the sliders start at for ``model``: its recommended_config over the operator's defaults
        (the operator's defaults alone for None or a model no longer offered by name), clamped to the
        sliders' ranges."""
        params = GenerationParams(max_new_tokens=self._max_new_tokens)
        if model:
            with contextlib.suppress(InputRejected):  # no longer offered by name: the defaults
                params = self.chat_model(model).params
        return self._clamped(params)


def checked_number(name: str, value: object, low: float, high: float) -> float:
    """``value`` as a float when it is a finite number in ``[low, high]``; else :class:`InputRejected`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputRejected(f"{name} must be a number between {low:g} and {high:g}.")
    number = float(value)
    if not math.isfinite(number):
        raise InputRejected(f"{name} must be a finite number between {low:g} and {high:g}, not {number}.")
    if not low <= number <= high:
        raise InputRejected(f"{name} must be between {low:g} and {high:g}; {number:g} is out of range.")
    return number
