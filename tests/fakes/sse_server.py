"""Shared machinery of the loopback fake vendor servers (``openai_server.py``, ``anthropic_server.py``).

A :class:`FakeServer` is a real HTTP/1.1 server on ``127.0.0.1`` (random free port) running in a daemon
thread. Each request it receives is recorded (:class:`RecordedRequest`) and answered by the next
:class:`Reply` of its script (or the default reply once the script is used up). Replies describe what the
server does: status and error body, delays (before the headers, before the first chunk, between chunks),
the text chunks, and faults (disconnect mid-stream, a malformed event, an error event mid-stream).

Streaming bodies use chunked transfer encoding, so an abrupt disconnect is visible to the client as a
broken body, exactly as with a real server. While the server waits (delays), it watches its socket: when
the client closes the connection it stops at once and records ``client_closed=True`` on the request, so
tests can assert that a cancelled generation really closed the upstream connection.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass
class Reply:
    """What the fake server does for one request.

    chunks: text pieces streamed one event each (joined, they are the whole answer).
    status: HTTP status; anything but 200 sends ``error_body`` (or a vendor-shaped default) as JSON.
    headers_delay: seconds before the response headers (a server that does not answer at all).
    first_chunk_delay: seconds after the headers before the first text chunk (slow first token).
    chunk_delay: seconds between text chunks.
    disconnect_after: close the connection abruptly after this many text chunks.
    malformed_after: after this many text chunks send an event whose data is not JSON, then stop.
    error_event_after: after this many text chunks send an in-stream error event, then stop.
    finish_reason: the reason reported at the end ("stop"/"length" for OpenAI; mapped for Anthropic).
    usage: whether usage (token counts) is reported; ``output_tokens`` overrides the count.
    pings: (Anthropic) send a ping event before every chunk.
    extra_headers: added to the response headers (e.g. ``{"retry-after": "1"}``).
    """

    chunks: list[str] = field(default_factory=lambda: ["Hello", " from", " the", " fake", " server."])
    status: int = 200
    error_body: dict[str, Any] | None = None
    error_message: str = "fake upstream error"
    headers_delay: float = 0.0
    first_chunk_delay: float = 0.0
    chunk_delay: float = 0.0
    disconnect_after: int | None = None
    malformed_after: int | None = None
    error_event_after: int | None = None
    finish_reason: str = "stop"
    usage: bool = True
    output_tokens: int | None = None
    pings: bool = False
    extra_headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def text(cls, text: str, **kwargs: Any) -> Reply:
        """Stream ``text`` split into words (spaces kept at the start of each piece)."""
        words = text.split(" ")
        chunks = [words[0]] + [" " + w for w in words[1:]]
        return cls(chunks=[c for c in chunks if c], **kwargs)

    @classmethod
    def error(cls, status: int, message: str = "fake upstream error", **kwargs: Any) -> Reply:
        return cls(status=status, error_message=message, **kwargs)

    @property
    def full_text(self) -> str:
        return "".join(self.chunks)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any  # parsed JSON (or the raw text if it was not JSON)
    started_at: float
    finished_at: float | None = None
    client_closed: bool = False  # the client closed the connection before the reply was complete


class _ClientGone(Exception):
    pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up (cancel tests, aborted sockets) are expected; anything else is a bug.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


ReplySource = Iterable[Reply] | Callable[[RecordedRequest], Reply] | None


class FakeServer:
    """Base class; subclasses implement :meth:`_respond` in their vendor's wire format."""

    #: path prefix added to the base URL the SDK is given
    base_path = ""

    def __init__(
        self, script: ReplySource = None, *, default: Reply | None = None, api_key: str | None = None
    ) -> None:
        self.api_key = api_key  # when set, requests without this key get the vendor's 401
        self._lock = threading.Lock()
        self._queue: deque[Reply] = deque()
        self._handler_fn: Callable[[RecordedRequest], Reply] | None = None
        if callable(script):
            self._handler_fn = script
        elif script is not None:
            self._queue.extend(script)
        self.default = default or Reply()
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.client_closed = threading.Event()
        self._stop = threading.Event()
        self._httpd = _QuietServer(("127.0.0.1", 0), self._make_handler())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------------------------- public API
    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` without the vendor path prefix."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The URL to give the SDK / the endpoint file's ``api_base``."""
        return self.url + self.base_path

    def enqueue(self, *replies: Reply) -> None:
        """Append replies to the script (used in order, one per request)."""
        with self._lock:
            self._queue.extend(replies)

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _given_key(self, headers: dict[str, str]) -> str:
        auth = headers.get("authorization", "")
        return auth.removeprefix("Bearer ").strip() if auth else headers.get("x-api-key", "")

    def _key_ok(self, headers: dict[str, str]) -> bool:
        return self._given_key(headers) == self.api_key

    # ------------------------------------------------------------------------------ for subclasses
    def _respond(self, h: _Handler, req: RecordedRequest, reply: Reply) -> None:
        raise NotImplementedError

    def _next_reply(self, req: RecordedRequest) -> Reply:
        if self._handler_fn is not None:
            return self._handler_fn(req)
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    def _make_handler(self) -> type[_Handler]:
        server = self

        class Handler(_Handler):
            fake = server

        return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        req = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            started_at=time.monotonic(),
        )
        fake = self.fake
        with fake._lock:
            fake.requests.append(req)
            fake.in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
        try:
            reply = fake._next_reply(req)
            if fake.api_key is not None and not fake._key_ok(req.headers):
                # like OpenAI, echo a masked form of the wrong key (clients must not show it)
                given = fake._given_key(req.headers)
                shown = given[:3] + "***" + given[-4:] if len(given) > 8 else "***"
                reply = Reply.error(401, f"Incorrect API key provided: {shown}.")
            self.pause(reply.headers_delay)
            fake._respond(self, req, reply)
        except _ClientGone:
            req.client_closed = True
            fake.client_closed.set()
            self.close_connection = True
        finally:
            req.finished_at = time.monotonic()
            with fake._lock:
                fake.in_flight -= 1

    # ---------------------------------------------------------------------------- writing helpers
    def pause(self, seconds: float) -> None:
        """Sleep, but notice (and raise _ClientGone) as soon as the client closes the connection."""
        end = time.monotonic() + seconds
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            if self.fake._stop.is_set():
                raise _ClientGone
            readable, _, _ = select.select([self.connection], [], [], min(remaining, 0.02))
            if readable:
                try:
                    peek = self.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    peek = b""
                if not peek:
                    raise _ClientGone

    def send_json(self, status: int, payload: Any, extra_headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self._write(data)

    def start_sse(self, extra_headers: dict[str, str] | None = None) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self._flush()

    def send_event(self, data: str, event: str | None = None) -> None:
        text = (f"event: {event}\n" if event else "") + f"data: {data}\n\n"
        payload = text.encode()
        self._write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")

    def end_chunked(self) -> None:
        self._write(b"0\r\n\r\n")

    def disconnect(self) -> None:
        """Drop the connection without finishing the chunked body."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
            self._flush()
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise _ClientGone from exc

    def _flush(self) -> None:
        try:
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise _ClientGone from exc
