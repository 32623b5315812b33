"""Cancel events of the generations in progress, shared by the battle and chat services.

A user's state lives in ``gr.State``, which Gradio copies between events, so it cannot hold a
``threading.Event``; it holds a random token instead, and the service keeps the token's event here. The
Stop handler (another event, possibly another thread) looks the token up and sets the event, a
:class:`~arena_app.providers.answer_threads.CancelEvent`, which wakes the waiting stream at once.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from arena_app.providers.answer_threads import CancelEvent


class RunningGenerations:
    def __init__(self) -> None:
        self._events: dict[str, CancelEvent] = {}
        self._lock = threading.Lock()

    @contextmanager
    def start(self) -> Iterator[tuple[str, CancelEvent]]:
        """Register a generation for the duration of the block: yields ``(token, cancel_event)``."""
        token = secrets.token_hex(8)
        event = CancelEvent()
        with self._lock:
            self._events[token] = event
        try:
            yield token, event
        finally:
            with self._lock:
                self._events.pop(token, None)

    def cancel(self, token: str | None) -> bool:
        """Set the cancel event of ``token``; False when no such generation is running."""
        if token is None:
            return False
        with self._lock:
            event = self._events.get(token)
        if event is None:
            return False
        event.set()
        return True
