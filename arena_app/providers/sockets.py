"""Abort the HTTP request a given thread is waiting on, even before any response arrived.

Once a response has started, :func:`arena_app.providers.attempts.shutdown_response` reaches its socket
through the response. Before that (a server that accepted the request but sends nothing yet, or a
non-streaming request still being computed) there is no response object to close. For that case the SDK
clients get an HTTP client whose network streams record, per thread, the socket a blocking read is waiting
on; :func:`abort_thread` shuts that socket down (waking the read at once, so the server sees the close) and
makes any later read by that thread fail immediately.

This wraps httpcore2's network backend through private attributes (``_transport._pool._network_backend``);
if they change, :func:`install` returns False and cancellation falls back to the read timeout.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterable
from typing import Any

import httpcore2

_lock = threading.Lock()
_reading: dict[int, Any] = {}  # thread ident -> network stream it is blocked on
_aborted: set[int] = set()  # thread idents whose requests were aborted


def _shutdown(stream: Any) -> None:
    sock = stream.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class _TrackedStream(httpcore2.NetworkStream):
    def __init__(self, inner: httpcore2.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        me = threading.get_ident()
        with _lock:
            if me in _aborted:
                raise httpcore2.ReadError("request aborted")
            _reading[me] = self._inner
        try:
            return self._inner.read(max_bytes, timeout)
        finally:
            with _lock:
                _reading.pop(me, None)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if threading.get_ident() in _aborted:
            raise httpcore2.WriteError("request aborted")
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore2.NetworkStream:
        return _TrackedStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _TrackingBackend(httpcore2.NetworkBackend):
    def __init__(self, inner: httpcore2.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        return _TrackedStream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.NetworkStream:
        return _TrackedStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def install(http_client: Any) -> bool:
    """Make ``http_client`` (an httpx2.Client) abortable per thread; False if its internals differ."""
    pool = getattr(getattr(http_client, "_transport", None), "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if pool is None or backend is None:
        return False
    if not isinstance(backend, _TrackingBackend):
        pool._network_backend = _TrackingBackend(backend)
    return True


def abort_thread(ident: int) -> None:
    """Fail the requests of thread ``ident`` now and from now on (until :func:`forget_thread`)."""
    with _lock:
        _aborted.add(ident)
        stream = _reading.get(ident)
    if stream is not None:
        _shutdown(stream)


def forget_thread(ident: int) -> None:
    with _lock:
        _aborted.discard(ident)
        _reading.pop(ident, None)
