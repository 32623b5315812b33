"""How an anonymous battle's pair is drawn (setting ``sampling``, env ``ARENA_SAMPLING``), and the weight the
battle records: its inverse propensity ``1 / (K P(pair))`` over the ``K`` pairs it was drawn from.

* ``weighted`` (the default, the behaviour before this setting existed): the first model by endpoint
  weight, the second by weight among the rest (:func:`arena_app.services.sampling.sample_pair`); the
  propensity is that rule's exact pair probability
  (:func:`leaderboard.active_sampling.sequential_probabilities`), so equal weights record 1.
* ``uniform``: every pair equally likely; weight 1. The kill switch: whatever went wrong with another
  mode, this one is the textbook design.
* ``active``: pairs in proportion to how much a vote shrinks the rating intervals of the weighted fit
  (the ``neyman`` rule of :mod:`leaderboard.active_sampling`), mixed with uniform so each pair keeps at
  least ``sampling_floor`` of its uniform share (``ARENA_SAMPLING_FLOOR``, default 0.2; 1 = uniform). The
  rule needs only the ratings, taken from the latest ``overall`` snapshot: the request path never fits.
  The pair probabilities are computed once per (snapshot, set of available models) and cached; the
  latest snapshot's id is checked at most every ``refresh_s`` seconds. Without a snapshot, or if reading
  it fails, the draw is uniform (and records weight 1).

Models with weight 0 never battle, in every mode. The leaderboard fit uses the recorded weights when they
differ from 1 (``--weights auto``, docs/leaderboard.md).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from arena_app.providers.model_info import ModelInfo
from arena_app.services.sampling import NoModelsAvailable, sample_pair
from arena_app.storage import api
from arena_app.storage.db import session_scope
from leaderboard.active_sampling import (
    DEFAULT_FLOOR,
    PairProbabilities,
    sequential_probabilities,
    theta_probabilities,
)

log = logging.getLogger(__name__)

SamplingMode = Literal["uniform", "weighted", "active"]
SAMPLING_MODES: tuple[SamplingMode, ...] = ("uniform", "weighted", "active")
REFRESH_S = 30.0


@dataclass(frozen=True)
class SampledPair:
    a: ModelInfo
    b: ModelInfo
    weight: float  # 1 / (K P(pair)): what the battle row records


class PairSampler(Protocol):
    mode: SamplingMode

    def draw(self, pool: Sequence[ModelInfo], rng: np.random.Generator) -> SampledPair: ...


def battle_pool(models: Sequence[ModelInfo]) -> list[ModelInfo]:
    """The models that may battle (weight > 0); refuses fewer than two."""
    pool = [m for m in models if float(m.weight) > 0]
    if len(pool) < 2:
        raise NoModelsAvailable(
            "Fewer than two models are available for battles right now; please try again later."
        )
    return pool


def _pair_index(n: int, x: int, y: int) -> int:
    """Position of the unordered pair (x, y) in ``np.triu_indices(n, 1)`` order."""
    i, j = min(x, y), max(x, y)
    return i * n - i * (i + 1) // 2 + (j - i - 1)


def _draw_from(pool: list[ModelInfo], probs: PairProbabilities, rng: np.random.Generator) -> SampledPair:
    a, b, w = probs.draw(rng, 1)
    return SampledPair(pool[int(a[0])], pool[int(b[0])], float(w[0]))


class UniformSampler:
    mode: SamplingMode = "uniform"

    def draw(self, pool: Sequence[ModelInfo], rng: np.random.Generator) -> SampledPair:
        models = battle_pool(pool)
        first = int(rng.integers(len(models)))
        second = int(rng.integers(len(models) - 1))
        second += second >= first
        pair = (models[first], models[second])
        return SampledPair(*(pair if rng.random() < 0.5 else pair[::-1]), weight=1.0)


class WeightedSampler:
    mode: SamplingMode = "weighted"

    def draw(self, pool: Sequence[ModelInfo], rng: np.random.Generator) -> SampledPair:
        models = battle_pool(pool)
        a, b = sample_pair(models, rng)
        probs = sequential_probabilities([float(m.weight) for m in models])
        k = _pair_index(len(models), models.index(a), models.index(b))
        return SampledPair(a, b, float(probs.weights(np.array([k]))[0]))


@dataclass(frozen=True)
class SnapshotRatings:
    snapshot_id: int
    theta: dict[str, float]  # model -> rating on the natural-log scale (rating / (scale / ln base))


def latest_ratings(session_factory: sessionmaker[Session], known: int | None) -> SnapshotRatings | None:
    """The latest ``overall`` snapshot's ratings, or None when there is none or its id is ``known``."""
    with session_scope(session_factory) as s:
        snap_id = api.latest_snapshot_id(s, "overall")
        if snap_id is None or snap_id == known:
            return None
        record = api.latest_snapshot(s, "overall")
    if record is None:
        return None
    from leaderboard.result import LeaderboardResult, SnapshotParams  # plotly: only when a snapshot is read

    result = LeaderboardResult.from_json(record.result)
    params = SnapshotParams.from_json(record.params).compute
    factor = params.scale / math.log(params.base)
    theta = {m: r / factor for m, r in zip(result.models, result.rating, strict=True) if math.isfinite(r)}
    return SnapshotRatings(record.id, theta)


class ActiveSampler:
    mode: SamplingMode = "active"

    def __init__(
        self,
        ratings: Callable[[int | None], SnapshotRatings | None],
        *,
        floor: float = DEFAULT_FLOOR,
        refresh_s: float = REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0.0 <= floor <= 1.0:
            raise ValueError("the sampling floor must be between 0 and 1")
        self._ratings = ratings
        self._floor = floor
        self._refresh_s = refresh_s
        self._clock = clock
        self._checked = -math.inf
        self._snapshot: SnapshotRatings | None = None
        self._cache: dict[tuple[int, tuple[str, ...]], PairProbabilities] = {}

    @property
    def snapshot_id(self) -> int | None:
        return None if self._snapshot is None else self._snapshot.snapshot_id

    def _refresh(self) -> None:
        now = self._clock()
        if now - self._checked < self._refresh_s:
            return
        self._checked = now
        try:
            new = self._ratings(self.snapshot_id)
        except Exception:  # sampling must never fail a battle: keep what we have (or draw uniformly)
            log.warning("active sampling: cannot read the latest snapshot; keeping the last", exc_info=True)
            return
        if new is not None:
            self._snapshot = new
            self._cache.clear()

    def probabilities(self, pool: Sequence[ModelInfo]) -> PairProbabilities | None:
        """The cached pair probabilities for ``pool`` (None without a snapshot: draw uniformly)."""
        self._refresh()
        snap = self._snapshot
        if snap is None:
            return None
        names = tuple(m.name for m in pool)
        key = (snap.snapshot_id, names)
        if key not in self._cache:
            known = [snap.theta[n] for n in names if n in snap.theta]
            centre = float(np.mean(known)) if known else 0.0
            theta = np.array([snap.theta.get(n, centre) - centre for n in names])  # new models: the mean
            if len(self._cache) >= 64:  # the available models change rarely: a small cache suffices
                self._cache.clear()
            self._cache[key] = theta_probabilities(theta, floor=self._floor)
        return self._cache[key]

    def draw(self, pool: Sequence[ModelInfo], rng: np.random.Generator) -> SampledPair:
        models = battle_pool(pool)
        probs = self.probabilities(models)
        if probs is None:
            return UniformSampler().draw(models, rng)
        return _draw_from(models, probs, rng)


def make_sampler(
    mode: str, *, floor: float, session_factory: sessionmaker[Session], refresh_s: float = REFRESH_S
) -> PairSampler:
    """The sampler of a ``sampling`` setting."""
    if mode == "uniform":
        return UniformSampler()
    if mode == "weighted":
        return WeightedSampler()
    if mode == "active":

        def source(known: int | None) -> SnapshotRatings | None:
            return latest_ratings(session_factory, known)

        return ActiveSampler(source, floor=floor, refresh_s=refresh_s)
    raise ValueError(f"unknown sampling mode {mode!r}: use {', '.join(SAMPLING_MODES)}")
