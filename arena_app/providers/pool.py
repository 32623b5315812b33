"""Endpoint slots and health for :class:`~arena_app.providers.registry.ModelRegistry`.

Choice: among a model's api_base URLs, the healthy one with the fewest requests in flight (ties rotate).
Each endpoint admits at most ``max_concurrency`` requests; a request that finds no free slot within the
queue timeout fails with :class:`ModelBusy`.

Health: ``failure_threshold`` consecutive failures put an endpoint in cool-down for ``cooldown_s``; after a
cool-down one more failure starts a new one at once (half-open); a success resets the count. Only errors
that say something about the endpoint count (``ProviderError.counts_as_failure``).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence

from arena_app.providers.base import Provider
from arena_app.providers.errors import Cancelled, ModelBusy, ProviderError
from arena_app.providers.model_info import EndpointHealth

log = logging.getLogger("arena_app.providers")


class Endpoint:
    """One api_base of one model: its provider, slots in use and health counters."""

    def __init__(self, model: str, provider: Provider, host: str, max_concurrency: int) -> None:
        self.model = model
        self.provider = provider
        self.host = host
        self.max_concurrency = max_concurrency
        self.in_flight = 0
        self.consecutive_failures = 0
        self.cooldown_until = float("-inf")
        self.requests = 0
        self.failures = 0
        self.last_error: str | None = None
        #: set while the endpoint is known to be down (a supervised local worker restarting): why
        self.down: str | None = None

    def usable(self, now: float) -> bool:
        return self.down is None and self.cooldown_until <= now


class EndpointPool:
    """Slots and health of every endpoint of a registry, under one lock. Thread-safe."""

    def __init__(self, *, clock: Callable[[], float], failure_threshold: int, cooldown_s: float) -> None:
        self.clock = clock
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._cond = threading.Condition()
        self._rotation = itertools.count()

    def any_healthy(self, endpoints: Sequence[Endpoint]) -> bool:
        now = self.clock()
        with self._cond:
            return any(ep.usable(now) for ep in endpoints)

    def health(self, endpoints: Sequence[Endpoint]) -> tuple[EndpointHealth, ...]:
        now = self.clock()
        with self._cond:
            return tuple(
                EndpointHealth(
                    host=ep.host,
                    healthy=ep.usable(now),
                    in_flight=ep.in_flight,
                    max_concurrency=ep.max_concurrency,
                    consecutive_failures=ep.consecutive_failures,
                    cooldown_remaining_s=max(0.0, ep.cooldown_until - now),
                    requests=ep.requests,
                    failures=ep.failures,
                    last_error=ep.down or ep.last_error,
                )
                for ep in endpoints
            )

    def occupy(self, ep: Endpoint) -> None:
        """Take a slot of ``ep`` regardless of its limit (``arena models check`` probes every endpoint)."""
        with self._cond:
            ep.in_flight += 1
            ep.requests += 1

    def acquire(
        self,
        endpoints: Sequence[Endpoint],
        tried: Sequence[Endpoint],
        cancel: threading.Event | None,
        queue_timeout_s: float,
    ) -> Endpoint:
        """Wait for a free slot (see :meth:`choose`); :class:`ModelBusy` after ``queue_timeout_s``."""
        deadline = time.monotonic() + queue_timeout_s
        with self._cond:
            while True:
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                ep = self.choose(endpoints, tried)
                if ep is not None:
                    ep.in_flight += 1
                    ep.requests += 1
                    return ep
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    limit = max((e.max_concurrency for e in endpoints), default=0)
                    raise ModelBusy(
                        f"The model is busy ({limit} requests per endpoint already running) and no slot "
                        f"freed up within {queue_timeout_s:g} s; try again shortly."
                    )
                self._cond.wait(timeout=min(remaining, 0.1))

    def choose(self, endpoints: Sequence[Endpoint], tried: Sequence[Endpoint]) -> Endpoint | None:
        """The least-outstanding endpoint with a free slot, or None (wait). Only healthy endpoints are
        used while the model has any (even if they are full); cooling ones only when all are cooling.
        A retry prefers an endpoint not tried yet. Call with the lock held (from :meth:`acquire`)."""
        now = self.clock()
        candidates = [ep for ep in endpoints if ep.usable(now)] or list(endpoints)
        untried = [ep for ep in candidates if ep not in tried]
        for pool in (untried, candidates):
            free = [ep for ep in pool if ep.in_flight < ep.max_concurrency]
            if free:
                least = min(ep.in_flight for ep in free)
                best = [ep for ep in free if ep.in_flight == least]
                return best[next(self._rotation) % len(best)]
        return None

    def set_down(self, endpoints: Sequence[Endpoint], reason: str | None) -> None:
        """Mark ``endpoints`` down (``reason``) or, with None, up again: a worker that was restarted and
        answers its health check starts with a clean record (no cool-down, no failure streak)."""
        with self._cond:
            for ep in endpoints:
                ep.down = reason
                if reason is None:
                    ep.consecutive_failures = 0
                    ep.cooldown_until = float("-inf")
            self._cond.notify_all()

    def release(self, ep: Endpoint) -> None:
        with self._cond:
            ep.in_flight -= 1
            self._cond.notify_all()

    def record(self, ep: Endpoint, err: ProviderError | None) -> None:
        """Count a success (resets the endpoint's health) or a failure (may start a cool-down)."""
        with self._cond:
            if err is None:  # a success proves the endpoint works, cool-down or not
                ep.consecutive_failures = 0
                ep.cooldown_until = float("-inf")
                return
            if not err.counts_as_failure:
                return
            ep.failures += 1
            ep.consecutive_failures += 1
            ep.last_error = err.message
            if ep.consecutive_failures >= self.failure_threshold:
                ep.cooldown_until = self.clock() + self.cooldown_s
                log.warning(
                    "%s @ %s: cooling down for %g s after %d consecutive failures (last: %s)",
                    ep.model,
                    ep.host,
                    self.cooldown_s,
                    ep.consecutive_failures,
                    err.message,
                )
