"""Run one upstream SDK stream with deadlines and prompt cancellation (shared by every provider).

The SDK's blocking iteration runs in a small "pump" thread that feeds a queue; the caller's generator
waits on the queue in short slices, so it can react within ~50 ms to the cancel event, to the first-token
deadline and to the total deadline even while the upstream is stalled mid-read. On any early exit
(cancel, timeout, the caller closing the generator, an error) the upstream connection's socket is shut
down, which wakes the pump's blocked read at once and makes the server see the connection close.

A provider supplies ``open_stream()`` (sends the request, returns the SDK stream object) and
``events(stream)`` (yields :class:`TextDelta` and finally one :class:`Finish`), plus ``translate(exc)``
turning SDK/HTTP exceptions into :class:`ProviderError`.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from arena_app.providers import sockets
from arena_app.providers.base import Completion, TextDelta, Timeouts
from arena_app.providers.errors import Cancelled, ProviderError, ProviderTimeout, StreamInterrupted

POLL_S = 0.05


@dataclass(frozen=True)
class Finish:
    """The provider's end-of-stream report; turned into a :class:`Completion` with timings."""

    finish_reason: str
    output_tokens: int | None


class _Done:
    pass


_DONE = _Done()


def shutdown_response(stream: Any) -> None:
    """Close the HTTP connection under an SDK stream object, waking any thread blocked reading it."""
    response = getattr(stream, "http_response", None) or getattr(stream, "response", None)
    if response is None:
        return
    network = getattr(response, "extensions", {}).get("network_stream")
    sock = network.get_extra_info("socket") if network is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


class _Pump:
    def __init__(self, open_stream: Callable[[], Any], events: Callable[[Any], Iterator[TextDelta | Finish]]):
        self.items: queue.Queue[object] = queue.Queue()
        self._open = open_stream
        self._events = events
        self._lock = threading.Lock()
        self._stream: Any = None
        self._aborted = False
        self._finished = False
        self.thread = threading.Thread(target=self._run, name="provider-stream", daemon=True)

    def _run(self) -> None:
        try:
            self._pump()
        finally:
            with self._lock:  # after this, abort() no longer touches this thread's requests
                self._finished = True
            sockets.forget_thread(threading.get_ident())

    def _pump(self) -> None:
        try:
            stream = self._open()
            with self._lock:
                self._stream = stream
                aborted = self._aborted
            if aborted:
                shutdown_response(stream)
                _close_quietly(stream)
                return
            try:
                for item in self._events(stream):
                    self.items.put(item)
                    if self._aborted:
                        break
            finally:
                # Forget the stream before closing it: once closed, its connection may go back to the
                # pool and serve another request, whose socket abort() must not shut down.
                with self._lock:
                    self._stream = None
                _close_quietly(stream)
            self.items.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which translates it
            self.items.put(exc)

    def abort(self) -> None:
        with self._lock:
            self._aborted = True
            if self._stream is not None:
                shutdown_response(self._stream)
            elif not self._finished and self.thread.ident is not None:
                sockets.abort_thread(self.thread.ident)  # no response yet: close the request's socket


def _close_quietly(stream: Any) -> None:
    with contextlib.suppress(Exception):  # closing a broken connection may raise; nothing to do then
        stream.close()


def guarded_stream(
    open_stream: Callable[[], Any],
    events: Callable[[Any], Iterator[TextDelta | Finish]],
    translate: Callable[[BaseException, bool], ProviderError],
    timeouts: Timeouts,
    cancel: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[TextDelta | Completion]:
    """Yield text deltas then one Completion; raise ProviderError subclasses (see module docstring).

    ``translate(exc, started)`` gets ``started=True`` once text has been yielded.
    """
    start = clock()
    first_deadline = start + timeouts.first_token_s
    total_deadline = start + timeouts.total_s
    ttft: float | None = None
    pump = _Pump(open_stream, events)
    pump.thread.start()
    completed = False
    try:
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            now = clock()
            if pump.items.empty():  # what arrived in time is delivered even to a slow reader
                if ttft is None and now >= first_deadline:
                    raise ProviderTimeout(f"The model did not answer within {timeouts.first_token_s:g} s.")
                if now >= total_deadline:
                    raise ProviderTimeout(
                        f"The model did not finish its answer within {timeouts.total_s:g} s."
                    )
            try:
                item = pump.items.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if isinstance(item, TextDelta):
                if not item.text:
                    continue
                if ttft is None:
                    ttft = clock() - start
                yield item
            elif isinstance(item, Finish):
                completed = True  # the upstream finished: let its connection go back to the pool
                yield Completion(
                    finish_reason=item.finish_reason,
                    output_tokens=item.output_tokens,
                    ttft_s=ttft,
                    total_s=clock() - start,
                )
                return
            elif isinstance(item, _Done):
                raise StreamInterrupted("The model's answer broke off: the server ended the stream early.")
            elif isinstance(item, ProviderError):
                raise item
            elif isinstance(item, BaseException):
                raise translate(item, ttft is not None) from item
    finally:
        if not completed:
            pump.abort()
