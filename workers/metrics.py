"""Counters behind ``GET /metrics``: requests in flight, tokens generated, tokens/s, batch sizes."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class MetricsSnapshot:
    requests_in_flight: int
    requests_total: int
    requests_cancelled: int
    tokens_generated_total: int
    tokens_per_second: float  # over the last ``window_s`` seconds (or since start, if shorter)
    window_s: float
    decode_steps: int  # forward passes that produced tokens
    batched_steps: int  # ... of which produced tokens for more than one request
    max_batch_size: int  # most requests that got a token from one forward pass
    mean_batch_size: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


class Metrics:
    """Thread-safe: the engine thread records steps, the server's event loop records requests."""

    def __init__(self, window_s: float = 10.0) -> None:
        self._lock = threading.Lock()
        self._window_s = window_s
        self._started = time.monotonic()
        self._recent: deque[tuple[float, int]] = deque()
        self._in_flight = 0
        self._requests = 0
        self._cancelled = 0
        self._tokens = 0
        self._steps = 0
        self._batched_steps = 0
        self._max_batch = 0

    def request_started(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._requests += 1

    def request_finished(self, *, cancelled: bool = False) -> None:
        with self._lock:
            self._in_flight -= 1
            self._cancelled += int(cancelled)

    def step(self, batch_size: int) -> None:
        """One forward pass produced one token for each of ``batch_size`` requests."""
        now = time.monotonic()
        with self._lock:
            self._steps += 1
            self._tokens += batch_size
            self._batched_steps += int(batch_size > 1)
            self._max_batch = max(self._max_batch, batch_size)
            self._recent.append((now, batch_size))
            self._trim(now)

    def _trim(self, now: float) -> None:
        while self._recent and self._recent[0][0] < now - self._window_s:
            self._recent.popleft()

    def snapshot(self) -> MetricsSnapshot:
        now = time.monotonic()
        with self._lock:
            self._trim(now)
            span = min(self._window_s, max(now - self._started, 1e-9))
            recent_tokens = sum(n for _, n in self._recent)
            return MetricsSnapshot(
                requests_in_flight=self._in_flight,
                requests_total=self._requests,
                requests_cancelled=self._cancelled,
                tokens_generated_total=self._tokens,
                tokens_per_second=round(recent_tokens / span, 2),
                window_s=self._window_s,
                decode_steps=self._steps,
                batched_steps=self._batched_steps,
                max_batch_size=self._max_batch,
                mean_batch_size=round(self._tokens / self._steps, 3) if self._steps else 0.0,
            )
