"""One thread per streamed answer: the thread reading the upstream pushes its events straight into the
queue of whoever waits for them, and the waiter enforces the deadlines and the cancel event.

A stalled upstream blocks its reading thread inside a socket read, where it can watch neither a clock nor
an event. So the thread that *waits* does: an :class:`AnswerFeed` sleeps on its queue until the earliest
deadline of its answers, and aborts an answer by shutting down the socket its thread is blocked on, which
wakes the read at once and makes the server see the connection close. A :class:`CancelEvent` wakes the
waiter the moment it is set; for a plain ``threading.Event`` the waiter looks every :data:`POLL_S`.

- :func:`~arena_app.providers.attempts.read_attempt` sends one upstream call and reads it to the end in
  the answer's thread; the registry calls it once per attempt (retries happen in the same thread);
- :class:`~arena_app.providers.attempts.AnswerControl` is the attempt in progress of one answer, shared
  by its thread (which reports what happens) and the waiter (which checks deadlines and aborts);
- :class:`AnswerFeed` runs answers in their own threads into one queue (a battle's two sides share one);
- :func:`stream_answer` is the generator form for one answer (``ModelRegistry.stream``, ``stream()`` of
  the SDK providers).
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from arena_app.providers.attempts import AnswerControl, TextSink
from arena_app.providers.base import Completion, StreamEvent
from arena_app.providers.errors import Cancelled

#: How often a waiter looks at a plain ``threading.Event`` cancel (a CancelEvent wakes it instead).
POLL_S = 0.05
#: How long closing a stream early waits for its thread to let go of its endpoint slot.
JOIN_S = 2.0

Item = TypeVar("Item")


class CancelEvent(threading.Event):
    """A cancel event that also wakes the feeds waiting on it at once (instead of being polled)."""

    def __init__(self) -> None:
        super().__init__()
        self._listeners: list[Callable[[], None]] = []
        self._listeners_lock = threading.Lock()

    def set(self) -> None:
        super().set()
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` when the event is set; returns the function that unsubscribes it."""
        with self._listeners_lock:
            self._listeners.append(listener)
        if self.is_set():
            listener()

        def unsubscribe() -> None:
            with self._listeners_lock, contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return unsubscribe


class AnswerFeed(Generic[Item]):
    """Answers running in their own threads, pushing items into one queue; :meth:`get` waits for them.

    Whoever calls :meth:`get` enforces every answer's deadlines and the ``cancel`` event while it waits.
    An exception escaping an answer's ``run`` arrives as the item itself.
    """

    def __init__(self, cancel: threading.Event | None = None) -> None:
        self._queue: queue.SimpleQueue[tuple[int, Item | BaseException] | None] = queue.SimpleQueue()
        self._controls: dict[int, AnswerControl] = {}
        self._threads: list[threading.Thread] = []
        self._cancel = cancel
        # None in the queue is a wake-up: the cancel event was set
        self._unsubscribe = cancel.subscribe(self._wake) if isinstance(cancel, CancelEvent) else None

    def _wake(self) -> None:
        # Abort at once, in the thread that set the event: the waiter may not be waiting (a page that
        # went away leaves its stream suspended), and the answers must still end and be stored.
        self.abort()
        self._queue.put(None)

    def start(
        self, key: int, run: Callable[[AnswerControl, Callable[[Item], None]], None], name: str
    ) -> None:
        """Run ``run(control, put)`` in a new thread; ``put(item)`` hands ``(key, item)`` to :meth:`get`."""
        control = AnswerControl()
        self._controls[key] = control

        def put(item: Item) -> None:
            self._queue.put((key, item))

        def target() -> None:
            control.bind()
            try:
                run(control, put)
            except BaseException as exc:  # handed to the waiter, which raises or reports it
                self._queue.put((key, exc))
            finally:
                control.unbind()

        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def get(self, timeout: float | None = None) -> tuple[int, Item | BaseException] | None:
        """The next ``(key, item)``, waiting at most ``timeout`` seconds (None: until one arrives; 0: only
        what is queued). Returns None when the time is up."""
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            now = time.monotonic()
            self._enforce(now)
            wake = math.inf if end is None else end
            for control in self._controls.values():
                deadline = control.deadline()
                if deadline is not None:
                    wake = min(wake, deadline)
            if self._cancel is not None and self._unsubscribe is None and not self._cancel.is_set():
                wake = min(wake, now + POLL_S)
            try:
                got = self._queue.get(timeout=None if wake == math.inf else max(0.0, wake - now))
            except queue.Empty:
                if end is not None and time.monotonic() >= end:
                    return None
                continue
            if got is not None:
                return got

    def _enforce(self, now: float) -> None:
        if self._cancel is not None and self._cancel.is_set():
            self.abort()
        for control in self._controls.values():
            control.enforce(now)

    def abort(self) -> None:
        """Cancel every answer (those already ended are not affected)."""
        for control in list(self._controls.values()):  # may run in the canceller's thread
            control.abort(Cancelled())

    def join(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, end - time.monotonic()))

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()


def stream_answer(
    answer: Callable[[AnswerControl, TextSink], Completion],
    cancel: threading.Event | None = None,
    name: str = "answer",
) -> Iterator[StreamEvent]:
    """Run ``answer(control, on_text)`` in its own thread and yield its text deltas, then its Completion.

    Raises what the answer raised (ProviderError subclasses), :class:`Cancelled` once ``cancel`` is set.
    Closing the generator early aborts the upstream request and waits (up to :data:`JOIN_S`) for the
    thread to let go of its endpoint slot.
    """
    feed: AnswerFeed[StreamEvent] = AnswerFeed(cancel)
    feed.start(0, lambda control, put: put(answer(control, put)), name)
    ended = False
    try:
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            got = feed.get()
            assert got is not None  # no timeout given
            item = got[1]
            if isinstance(item, BaseException):
                ended = True
                raise item
            yield item
            if isinstance(item, Completion):
                ended = True
                return
    finally:
        if not ended:
            feed.abort()
            feed.join(JOIN_S)
        feed.close()
