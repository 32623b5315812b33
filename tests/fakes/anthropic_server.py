"""A loopback server speaking the Anthropic Messages wire format (``POST /v1/messages``, SSE streaming).

Usage::

    from tests.fakes.anthropic_server import AnthropicFakeServer, Reply

    with AnthropicFakeServer([Reply.text("Hi there")]) as srv:
        client = anthropic.Anthropic(base_url=srv.base_url, api_key="sk-ant-test", max_retries=0)
        ...
        srv.requests[0].body["system"], srv.requests[0].headers["x-api-key"]

``base_url`` has no path: the anthropic SDK appends ``/v1/messages`` itself. Constructor arguments and
recorded state are those of :class:`tests.fakes.sse_server.FakeServer` (``script``, ``default``,
``api_key``; ``requests``, ``client_closed``, ``max_in_flight``). Streaming replies send
``message_start`` (with usage), ``content_block_start``, one ``content_block_delta`` per chunk (``ping``
before each when ``Reply.pings``), ``content_block_stop``, ``message_delta`` (stop_reason, usage) and
``message_stop``. ``Reply.finish_reason`` "stop" becomes ``end_turn`` and "length" ``max_tokens``; other
values pass through. ``error_event_after`` sends ``event: error`` with an ``overloaded_error``. Error replies
send ``{"type": "error", "error": {"type", "message"}}``.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.sse_server import FakeServer, RecordedRequest, Reply, _Handler

__all__ = ["AnthropicFakeServer", "RecordedRequest", "Reply"]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens"}


def anthropic_error_body(status: int, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": _ERROR_TYPES.get(status, "api_error"), "message": message}}


class AnthropicFakeServer(FakeServer):
    base_path = ""

    def _respond(self, h: _Handler, req: RecordedRequest, reply: Reply) -> None:
        if not req.path.rstrip("/").endswith("/v1/messages"):
            h.send_json(404, anthropic_error_body(404, f"unknown path {req.path}"))
            return
        if reply.status != 200:
            body = reply.error_body or anthropic_error_body(reply.status, reply.error_message)
            h.send_json(reply.status, body, reply.extra_headers)
            return
        body = req.body if isinstance(req.body, dict) else {}
        model = str(body.get("model", "fake-claude"))
        tokens = reply.output_tokens if reply.output_tokens is not None else len(reply.chunks)
        stop_reason = _STOP_REASONS.get(reply.finish_reason, reply.finish_reason)
        if not body.get("stream"):
            h.pause(reply.first_chunk_delay)
            h.send_json(
                200,
                {
                    "id": "msg_fake",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [{"type": "text", "text": reply.full_text}],
                    "stop_reason": stop_reason,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 7, "output_tokens": tokens},
                },
                reply.extra_headers,
            )
            return

        def event(name: str, payload: dict[str, Any]) -> None:
            h.send_event(json.dumps({"type": name, **payload}), event=name)

        h.start_sse(reply.extra_headers)
        event(
            "message_start",
            {
                "message": {
                    "id": "msg_fake",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 7, "output_tokens": 1},
                }
            },
        )
        event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        h.pause(reply.first_chunk_delay)
        for i, piece in enumerate(reply.chunks):
            if self._fault(h, reply, i):
                return
            if i:
                h.pause(reply.chunk_delay)
            if reply.pings:
                event("ping", {})
            event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}})
        if self._fault(h, reply, len(reply.chunks)):
            return
        event("content_block_stop", {"index": 0})
        delta: dict[str, Any] = {"delta": {"stop_reason": stop_reason, "stop_sequence": None}}
        if reply.usage:
            delta["usage"] = {"output_tokens": tokens}
        event("message_delta", delta)
        event("message_stop", {})
        h.end_chunked()

    @staticmethod
    def _fault(h: _Handler, reply: Reply, sent: int) -> bool:
        if reply.disconnect_after == sent:
            h.disconnect()
            return True
        if reply.malformed_after == sent:
            h.send_event("{this is not json", event="content_block_delta")
            h.end_chunked()
            return True
        if reply.error_event_after == sent:
            h.send_event(json.dumps(anthropic_error_body(529, reply.error_message)), event="error")
            h.end_chunked()
            return True
        return False
