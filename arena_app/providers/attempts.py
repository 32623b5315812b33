"""One attempt at one endpoint, read in the answer's own thread, and the :class:`AnswerControl` through
which whoever waits for the answer enforces its deadlines and aborts it (see
:mod:`arena_app.providers.answer_threads`).

An abort shuts down the socket the reading thread is blocked on (the response's, or before any response
the request's, through :mod:`arena_app.providers.sockets`), which wakes the read at once and makes the
server see the connection close; the attempt then fails with the abort's error.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from arena_app.providers import sockets
from arena_app.providers.base import Completion, Finish, TextDelta, Timeouts, UpstreamCall
from arena_app.providers.errors import ProviderError, ProviderTimeout, StreamInterrupted

TextSink = Callable[[TextDelta], None]


def shutdown_response(stream: object) -> None:
    """Close the HTTP connection under an SDK stream object, waking any thread blocked reading it."""
    response = getattr(stream, "http_response", None) or getattr(stream, "response", None)
    if response is None:
        return
    network = getattr(response, "extensions", {}).get("network_stream")
    sock = network.get_extra_info("socket") if network is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


def _close_quietly(stream: object) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        with contextlib.suppress(Exception):  # closing a broken connection may raise; nothing to do then
            close()


class AnswerControl:
    """The attempt in progress of one answer. Its thread reports (``begin_attempt``, ``attach``,
    ``text_arrived``, ``finish``, ``end_attempt``); the waiter ``enforce``-s the deadlines and may
    ``abort``. An abort is final: the attempt in progress fails with the given error and no further
    attempt starts (``stopped`` is set, for waits between attempts)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.stopped = threading.Event()
        self.text_delivered = False  # some text of this answer reached the consumer (no retry after that)
        self.ttft_s: float | None = None  # of the current attempt
        self._lock = threading.Lock()
        self._failure: ProviderError | None = None
        self._thread: int | None = None  # ident of the answer's thread while it runs
        self._stream: object | None = None  # the SDK stream of the attempt in progress, once it responded
        self._in_request = False
        self._finished = False
        self._timeouts = Timeouts()
        self._started = 0.0
        self._first_deadline: float | None = None
        self._total_deadline: float | None = None

    @property
    def failure(self) -> ProviderError | None:
        """Why the answer was aborted (None while it was not)."""
        return self._failure

    # ------------------------------------------------------------------ the answer's thread
    def bind(self) -> None:
        with self._lock:
            self._thread = threading.get_ident()

    def unbind(self) -> None:
        """The thread ends: from now on an abort no longer touches its (pooled) connections."""
        with self._lock:
            ident, self._thread = self._thread, None
        if ident is not None:
            sockets.forget_thread(ident)

    def check(self) -> None:
        """Raise the abort's error if the answer was aborted."""
        if self._failure is not None:
            raise self._failure

    def begin_attempt(self, timeouts: Timeouts) -> None:
        with self._lock:
            self.check()
            self._started = now = self.clock()
            self._timeouts = timeouts
            self._first_deadline = now + timeouts.first_token_s
            self._total_deadline = now + timeouts.total_s
            self.ttft_s = None
            self._in_request, self._finished = True, False

    def attach(self, stream: object) -> bool:
        """The upstream responded; False if the answer was aborted meanwhile (then close ``stream``)."""
        with self._lock:
            if self._failure is not None:
                return False
            self._stream = stream
            return True

    def detach(self) -> None:
        """Forget the stream before closing it: once closed, its connection may go back to the pool and
        serve another request, whose socket an abort must not shut down."""
        with self._lock:
            self._stream = None

    def text_arrived(self) -> None:
        with self._lock:
            if self.ttft_s is None:
                self.ttft_s = self.clock() - self._started
                self._first_deadline = None
            self.text_delivered = True

    def finish(self) -> float:
        """The upstream finished in time; returns the attempt's duration (raises if aborted first)."""
        with self._lock:
            self.check()
            self._finished = True
            self._first_deadline = self._total_deadline = None
            return self.clock() - self._started

    def end_attempt(self) -> None:
        with self._lock:
            self._stream = None
            self._in_request = False
            self._first_deadline = self._total_deadline = None

    # ------------------------------------------------------------------ the waiter
    def deadline(self) -> float | None:
        """The next moment :meth:`enforce` has something to check (None: no deadline running)."""
        with self._lock:
            if self._failure is not None or self._finished:
                return None  # aborted or done: nothing left to enforce (a waiter must not spin on it)
            pending = [d for d in (self._first_deadline, self._total_deadline) if d is not None]
        return min(pending) if pending else None

    def enforce(self, now: float) -> None:
        """Abort the attempt in progress if its first-token or total deadline has passed."""
        with self._lock:
            if self._failure is not None or self._finished:
                return
            t = self._timeouts
            if self._first_deadline is not None and now >= self._first_deadline:
                err = ProviderTimeout(f"The model did not answer within {t.first_token_s:g} s.")
            elif self._total_deadline is not None and now >= self._total_deadline:
                err = ProviderTimeout(f"The model did not finish its answer within {t.total_s:g} s.")
            else:
                return
        self.abort(err)

    def abort(self, failure: ProviderError) -> None:
        """End the answer with ``failure``: shut down the socket its thread waits on (first abort wins)."""
        with self._lock:
            if self._failure is not None:
                return
            self._failure = failure
            self.stopped.set()
            if self._finished:
                return  # the upstream already finished: its connection goes back to the pool intact
            if self._stream is not None:
                shutdown_response(self._stream)
            elif self._in_request and self._thread is not None:
                sockets.abort_thread(self._thread)  # no response yet: close the request's socket


def read_attempt(call: UpstreamCall[Any], control: AnswerControl, on_text: TextSink) -> Completion:
    """Send ``call`` and read it to the end in this thread: non-empty text goes to ``on_text``; returns
    the Completion; raises ProviderError subclasses (the abort's error once ``control`` was aborted)."""
    control.begin_attempt(call.timeouts)
    try:
        try:
            stream = call.open()
        except Exception as exc:
            raise _failure(call, control, exc) from exc
        if not control.attach(stream):  # aborted while the request was being sent
            shutdown_response(stream)
            _close_quietly(stream)
            control.check()
        events = call.events(stream)
        try:
            for item in events:
                control.check()
                if isinstance(item, Finish):
                    total = control.finish()
                    return Completion(item.finish_reason, item.output_tokens, control.ttft_s, total)
                if item.text:
                    control.text_arrived()
                    on_text(item)
            control.check()
            raise StreamInterrupted("The model's answer broke off: the server ended the stream early.")
        except Exception as exc:
            failure = _failure(call, control, exc)
            if failure is exc:
                raise
            raise failure from exc
        finally:
            control.detach()
            _close_quietly(events)
            _close_quietly(stream)
    finally:
        control.end_attempt()


def _failure(call: UpstreamCall[Any], control: AnswerControl, exc: Exception) -> ProviderError:
    if control.failure is not None:
        return control.failure  # our abort caused the error the SDK raised
    if isinstance(exc, ProviderError):
        return exc
    return call.translate(exc, control.ttft_s is not None)
