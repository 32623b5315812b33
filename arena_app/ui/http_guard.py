"""An ASGI middleware in front of Gradio's routes: bounded request bodies, no uploads, no monitoring
dashboard, and 404 (not 500) for events that do not exist.

- **Body cap**: a request whose ``Content-Length`` exceeds the cap is answered 413 before any byte of
  its body is read; a body without a length (chunked) is counted as it streams and refused with 413 as
  soon as it passes the cap, so nothing is ever buffered beyond it. The cap is derived from
  ``max_input_chars`` (:func:`body_cap`): the longest message, JSON-escaped at worst, plus room for the
  other fields of an event.
- **Uploads** (``/gradio_api/upload``): refused with 403; no tab takes files.
- **Monitoring** (``/monitoring...``, Gradio's per-event counts and latencies): 404 to everyone.
- **Unknown events**: ``POST /gradio_api/queue/join`` with an ``fn_index`` the app does not have, and
  ``/gradio_api/call/NAME`` with an unknown name, get 404 (Gradio itself raises a KeyError: a 500).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: per character of a message, the most bytes it can take in a JSON body (a pair of \\uXXXX escapes)
JSON_BYTES_PER_CHAR = 12
#: the rest of an event's body: session hash, fn_index, parameters, model names
EVENT_OVERHEAD_BYTES = 64 * 1024
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def body_cap(max_input_chars: int) -> int:
    """The largest request body accepted, in bytes, for messages of at most ``max_input_chars``."""
    return max_input_chars * JSON_BYTES_PER_CHAR + EVENT_OVERHEAD_BYTES


class _TooLarge(Exception):
    """Raised into the app when the body passes the cap; whatever it answers, the client gets 413."""


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """The middleware (see the module docstring). ``known_fn(i)`` / ``known_api(name)``: does the app
    have event ``i`` / an event named ``name``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        known_fn: Callable[[int], bool],
        known_api: Callable[[str], bool],
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.known_fn = known_fn
        self.known_api = known_api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        refusal = self._refusal(path, scope)
        if refusal is not None:
            await _answer(send, *refusal)
            return
        if scope.get("method") not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        if path.endswith("/queue/join"):
            await self._join(scope, receive, send)
            return
        await self._counted(scope, receive, send)

    def _refusal(self, path: str, scope: Scope) -> tuple[int, str] | None:
        if path.startswith(("/monitoring", "/gradio_api/monitoring")):
            return 404, "Not Found"
        if path.rstrip("/").endswith("/gradio_api/upload"):
            return 403, "This arena takes no file uploads."
        if path.startswith("/gradio_api/call/"):
            name = path.removeprefix("/gradio_api/call/").split("/")[0]
            if name and not self.known_api(name):
                return 404, f"No event named {name[:60]!r}."
        length = _content_length(scope)
        if length is not None and length > self.max_body_bytes:
            return 413, self._too_large()
        return None

    def _too_large(self) -> str:
        return f"Request body too large: the limit is {self.max_body_bytes:,} bytes."

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, counting its body; past the cap, stop reading and answer 413 (the app's
        own answer, e.g. FastAPI's 400 for a body it could not read, is replaced)."""
        seen = 0
        exceeded = False
        answered = False
        started = False  # the app answered before the body passed the cap: its answer stands

        async def counting_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    exceeded = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal answered, started
            if not exceeded or started:
                started = started or message["type"] == "http.response.start"
                await send(message)
            elif not answered:
                answered = True
                await _answer(send, 413, self._too_large())

        with contextlib.suppress(_TooLarge):  # the app let it through; answered below
            await self.app(scope, counting_receive, guarded_send)
        if exceeded and not answered and not started:
            answered = True
            await _answer(send, 413, self._too_large())

    async def _join(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A queue join: read its (capped) body, refuse an unknown ``fn_index``, then replay the body."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await _answer(send, 413, self._too_large())
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        fn_index = _fn_index(body)
        if isinstance(fn_index, int) and not isinstance(fn_index, bool) and not self.known_fn(fn_index):
            await _answer(send, 404, f"No event with fn_index {fn_index}.")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect as usual

        await self.app(scope, replay, send)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _fn_index(body: bytes) -> object:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None  # Gradio answers malformed JSON with 422 itself
    return parsed.get("fn_index") if isinstance(parsed, dict) else None
