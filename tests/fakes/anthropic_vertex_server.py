"""A loopback server speaking Claude-on-Vertex-AI's wire format, for the anthropic SDK's ``AnthropicVertex``.

``POST /v1/projects/{project}/locations/{region}/publishers/anthropic/models/{model}:streamRawPredict``
(``:rawPredict`` without streaming): the Messages API body without ``model`` (it is in the URL) and with an
``anthropic_version`` field (Vertex has no ``anthropic-version`` header; anthropic 2.12 sends its API version
there, older SDKs sent ``vertex-2023-10-16``); the answer is the Anthropic Messages stream of
:class:`~tests.fakes.anthropic_server.AnthropicFakeServer` (same :class:`Reply` options). ``base_url`` ends in
``/v1``, as the SDK's Vertex base URLs do. ``bearer_token=`` makes requests with another token get Google's
HTTP 401 ``UNAUTHENTICATED`` (Vertex authenticates before Anthropic's code runs). ``requests`` record the
Vertex request as sent; ``calls`` the (project, region, model, method) of each.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from tests.fakes.anthropic_server import AnthropicFakeServer, RecordedRequest, Reply
from tests.fakes.gemini_server import google_error_body
from tests.fakes.sse_server import _Handler

__all__ = ["AnthropicVertexFakeServer", "RecordedRequest", "Reply"]

_PATH = re.compile(
    r"^/v1/projects/(?P<project>[^/]+)/locations/(?P<region>[^/]+)/publishers/anthropic/models/"
    r"(?P<model>[^/:]+):(?P<method>streamRawPredict|rawPredict)$"
)


class AnthropicVertexFakeServer(AnthropicFakeServer):
    base_path = "/v1"

    def __init__(self, *args: Any, bearer_token: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bearer_token = bearer_token
        self.calls: list[tuple[str, str, str, str]] = []

    def _respond(self, h: _Handler, req: RecordedRequest, reply: Reply) -> None:
        match = _PATH.match(req.path)
        if req.method != "POST" or match is None:
            h.send_json(404, google_error_body(404, f"unknown path {req.path}"))
            return
        token = req.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if self.bearer_token is not None and token != self.bearer_token:
            h.send_json(401, google_error_body(401, "Request had invalid authentication credentials."))
            return
        body = req.body if isinstance(req.body, dict) else {}
        if not body.get("anthropic_version") or "model" in body:
            message = "Vertex requests name the model in the URL and send anthropic_version in the body"
            h.send_json(400, google_error_body(400, message))
            return
        self.calls.append((match["project"], match["region"], match["model"], match["method"]))
        as_messages = {**body, "model": match["model"], "stream": match["method"] == "streamRawPredict"}
        super()._respond(h, replace(req, path="/v1/messages", body=as_messages), reply)
