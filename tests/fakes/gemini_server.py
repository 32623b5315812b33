"""A loopback server speaking Google's Gemini ``generateContent`` wire format, for the real google-genai SDK.

Usage::

    from tests.fakes.gemini_server import GeminiFakeServer, GeminiReply

    with GeminiFakeServer([GeminiReply.text("Hi there")], api_key="gm-test") as srv:
        client = genai.Client(api_key="gm-test", http_options={"base_url": srv.base_url})
        ...
        srv.requests[0].body["contents"], srv.requests[0].path

Two URL families are answered, as the SDK builds them:

* Gemini API: ``POST /v1beta/models/{model}:streamGenerateContent?alt=sse`` and ``...:generateContent``,
  key in the ``x-goog-api-key`` header. A wrong key gets what Google sends: HTTP **400**
  ``INVALID_ARGUMENT`` with an ``ErrorInfo`` detail whose reason is ``API_KEY_INVALID``.
* Vertex AI: ``POST /v1beta1/projects/{project}/locations/{location}/publishers/google/models/{model}:...``
  with ``Authorization: Bearer <token>``; ``bearer_token=`` makes another token get HTTP 401
  ``UNAUTHENTICATED``.

Streaming replies are server-sent events, one ``GenerateContentResponse`` JSON per event: one text part per
chunk (``GeminiReply.thoughts`` first, as parts with ``"thought": true``), the last chunk carrying
``finishReason`` (``Reply.finish_reason`` "stop" -> ``STOP``, "length" -> ``MAX_TOKENS``, other values sent
upper-cased, e.g. "safety" -> ``SAFETY``) and ``usageMetadata``. ``GeminiReply.block_reason`` answers with a
blocked prompt (``promptFeedback.blockReason``, no candidates). Error replies send Google's error body
``{"error": {"code", "message", "status"}}``; ``error_event_after`` sends such an error as an event
mid-stream, ``malformed_after`` an event that is not JSON, ``disconnect_after`` drops the connection.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.sse_server import FakeServer, RecordedRequest, Reply, _Handler

__all__ = ["GeminiFakeServer", "GeminiReply", "RecordedRequest", "Reply"]

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_FINISH = {"stop": "STOP", "length": "MAX_TOKENS"}
_PATH = re.compile(
    r"^/(?P<version>v1beta1?|v1)/(?:projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/publishers/"
    r"google/)?models/(?P<model>[^/:]+):(?P<method>streamGenerateContent|generateContent)(?:\?.*)?$"
)


def google_error_body(status: int, message: str, reason: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": STATUS_NAMES.get(status, "UNKNOWN"),
    }
    if reason is not None:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
            }
        ]
    return {"error": error}


@dataclass
class GeminiReply(Reply):
    """A :class:`Reply` with Gemini's extras: thought parts and a blocked prompt."""

    thoughts: list[str] = field(default_factory=list)
    block_reason: str | None = None

    @classmethod
    def text(cls, text: str, **kwargs: Any) -> GeminiReply:
        words = text.split(" ")
        chunks = [words[0]] + [" " + w for w in words[1:]]
        return cls(chunks=[c for c in chunks if c], **kwargs)


class GeminiFakeServer(FakeServer):
    base_path = ""

    def __init__(self, *args: Any, bearer_token: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bearer_token = bearer_token

    def _key_ok(self, headers: dict[str, str]) -> bool:
        return True  # checked in _respond: Google answers a bad API key with a 400, not a 401

    def _auth_error(self, req: RecordedRequest, vertex: bool) -> dict[str, Any] | None:
        if vertex:
            token = req.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if self.bearer_token is not None and token != self.bearer_token:
                return google_error_body(401, "Request had invalid authentication credentials.")
            return None
        key = req.headers.get("x-goog-api-key", "")
        if self.api_key is not None and key != self.api_key:
            return google_error_body(
                400, "API key not valid. Please pass a valid API key.", "API_KEY_INVALID"
            )
        return None

    def _respond(self, h: _Handler, req: RecordedRequest, reply: Reply) -> None:
        match = _PATH.match(req.path)
        if req.method != "POST" or match is None:
            h.send_json(404, google_error_body(404, f"unknown path {req.path}"))
            return
        auth = self._auth_error(req, vertex=match["project"] is not None)
        if auth is not None:
            h.send_json(auth["error"]["code"], auth)
            return
        if reply.status != 200:
            body = reply.error_body or google_error_body(reply.status, reply.error_message)
            h.send_json(reply.status, body, reply.extra_headers)
            return
        extra = reply if isinstance(reply, GeminiReply) else GeminiReply(**reply.__dict__)
        model = match["model"]
        if match["method"] == "generateContent":
            h.pause(reply.first_chunk_delay)
            h.send_json(200, self._final(extra, model, [{"text": reply.full_text}]), reply.extra_headers)
            return
        h.start_sse(reply.extra_headers)
        h.pause(reply.first_chunk_delay)
        if extra.block_reason is not None:
            h.send_event(json.dumps(self._blocked(extra, model)))
            h.end_chunked()
            return
        for thought in extra.thoughts:
            h.send_event(json.dumps(self._chunk(model, [{"text": thought, "thought": True}])))
        pieces = reply.chunks or [""]
        for i, piece in enumerate(pieces):
            if self._fault(h, reply, i):
                return
            if i:
                h.pause(reply.chunk_delay)
            last = i == len(pieces) - 1 and self._no_fault_at_end(reply)
            parts = [{"text": piece}]
            h.send_event(json.dumps(self._final(extra, model, parts) if last else self._chunk(model, parts)))
        if self._fault(h, reply, len(pieces)):
            return
        h.end_chunked()

    @staticmethod
    def _no_fault_at_end(reply: Reply) -> bool:
        n = len(reply.chunks or [""])
        return n not in (reply.disconnect_after, reply.malformed_after, reply.error_event_after)

    @staticmethod
    def _chunk(model: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}],
            "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
            "modelVersion": model,
            "responseId": "fake-response",
        }

    def _final(self, reply: GeminiReply, model: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
        body = self._chunk(model, parts)
        body["candidates"][0]["finishReason"] = _FINISH.get(reply.finish_reason, reply.finish_reason.upper())
        tokens = reply.output_tokens if reply.output_tokens is not None else len(reply.chunks)
        if reply.usage:
            body["usageMetadata"] = {
                "promptTokenCount": 7,
                "candidatesTokenCount": tokens,
                "totalTokenCount": 7 + tokens,
            }
        else:
            del body["usageMetadata"]
        return body

    @staticmethod
    def _blocked(reply: GeminiReply, model: str) -> dict[str, Any]:
        return {
            "promptFeedback": {"blockReason": reply.block_reason},
            "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
            "modelVersion": model,
        }

    @staticmethod
    def _fault(h: _Handler, reply: Reply, sent: int) -> bool:
        if reply.disconnect_after == sent:
            h.disconnect()
            return True
        if reply.malformed_after == sent:
            h.send_event("{this is not json")
            h.end_chunked()
            return True
        if reply.error_event_after == sent:
            h.send_event(json.dumps(google_error_body(500, reply.error_message)))
            h.end_chunked()
            return True
        return False
