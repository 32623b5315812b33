"""A loopback server speaking the OpenAI chat-completions wire format (streaming SSE and plain JSON).

Usage::

    from tests.fakes.openai_server import OpenAIFakeServer, Reply

    with OpenAIFakeServer([Reply.text("Hi there"), Reply.error(429)]) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="sk-test", max_retries=0)
        ...                                   # first request streams "Hi there", the second gets a 429
        srv.requests[0].body["temperature"]    # what the client sent
        srv.requests[0].headers["authorization"]

``script`` is a list of :class:`Reply` (one per request, in order; then ``default``), or a function
``RecordedRequest -> Reply``. ``base_url`` ends in ``/v1`` as the openai SDK expects. ``api_key="..."``
makes requests carrying another key get a 401. ``srv.client_closed`` (an Event) is set when a client hung
up before its reply finished; ``srv.max_in_flight`` counts concurrent requests. See docs/providers.md.

Streaming replies (``"stream": true``) send ``chat.completion.chunk`` events: a role chunk, one chunk per
text piece, a chunk with ``finish_reason``, a usage chunk (``choices: []``) when the request asked for
``stream_options.include_usage``, then ``data: [DONE]``. Error replies send OpenAI's error body
``{"error": {"message", "type", "param", "code"}}``. ``GET /v1/models`` lists the model ``fake-model``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from tests.fakes.sse_server import FakeServer, RecordedRequest, Reply, _Handler

__all__ = ["OpenAIFakeServer", "RecordedRequest", "Reply"]

_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("insufficient_quota", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


def openai_error_body(status: int, message: str) -> dict[str, Any]:
    etype, code = _ERROR_TYPES.get(status, ("server_error", None))
    return {"error": {"message": message, "type": etype, "param": None, "code": code}}


class OpenAIFakeServer(FakeServer):
    base_path = "/v1"

    def _respond(self, h: _Handler, req: RecordedRequest, reply: Reply) -> None:
        if req.method == "GET" and req.path.rstrip("/").endswith("/models"):
            h.send_json(
                200,
                {
                    "object": "list",
                    "data": [{"id": "fake-model", "object": "model", "created": 0, "owned_by": "fake"}],
                },
            )
            return
        if not req.path.rstrip("/").endswith("/chat/completions"):
            h.send_json(404, openai_error_body(404, f"unknown path {req.path}"))
            return
        if reply.status != 200:
            body = reply.error_body or openai_error_body(reply.status, reply.error_message)
            h.send_json(reply.status, body, reply.extra_headers)
            return
        body = req.body if isinstance(req.body, dict) else {}
        model = str(body.get("model", "fake-model"))
        tokens = reply.output_tokens if reply.output_tokens is not None else len(reply.chunks)
        usage = {"prompt_tokens": 7, "completion_tokens": tokens, "total_tokens": 7 + tokens}
        if not body.get("stream"):
            h.pause(reply.first_chunk_delay)
            payload: dict[str, Any] = {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.full_text},
                        "finish_reason": reply.finish_reason,
                        "logprobs": None,
                    }
                ],
            }
            if reply.usage:
                payload["usage"] = usage
            h.send_json(200, payload, reply.extra_headers)
            return

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            return json.dumps(
                {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
                }
            )

        h.start_sse(reply.extra_headers)
        h.send_event(chunk({"role": "assistant", "content": ""}))
        h.pause(reply.first_chunk_delay)
        for i, piece in enumerate(reply.chunks):
            if self._fault(h, reply, i):
                return
            if i:
                h.pause(reply.chunk_delay)
            h.send_event(chunk({"content": piece}))
        if self._fault(h, reply, len(reply.chunks)):
            return
        h.send_event(chunk({}, reply.finish_reason))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        if reply.usage and include_usage:
            h.send_event(
                json.dumps(
                    {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": model,
                        "choices": [],
                        "usage": usage,
                    }
                )
            )
        h.send_event("[DONE]")
        h.end_chunked()

    @staticmethod
    def _fault(h: _Handler, reply: Reply, sent: int) -> bool:
        """Inject the reply's fault after ``sent`` chunks; True when the stream must stop."""
        if reply.disconnect_after == sent:
            h.disconnect()
            return True
        if reply.malformed_after == sent:
            h.send_event("{this is not json")
            h.end_chunked()
            return True
        if reply.error_event_after == sent:
            h.send_event(json.dumps(openai_error_body(500, reply.error_message)))
            h.end_chunked()
            return True
        return False
