"""Google Gemini through the official google-genai SDK: api_types ``gemini`` / ``gemini_no_stream`` (the
Gemini API, an API key) and ``vertex`` (Gemini on Vertex AI, Application Default Credentials).

Messages: system messages are joined into ``system_instruction``; user and assistant turns become
``contents`` with the roles ``user`` / ``model``. Sampling: ``temperature``, ``top_p``, ``max_output_tokens``,
``stop_sequences``; ``extra_body`` is merged into the request JSON (the SDK's ``HttpOptions.extra_body``, in
Google's field names, e.g. ``{"safetySettings": [...]}`` for FastChat's BLOCK_NONE settings). Thought parts
(thinking models) are not shown. Finish reasons are mapped to the OpenAI vocabulary (``STOP`` -> ``stop``,
``MAX_TOKENS`` -> ``length``, safety-type reasons -> ``content_filter``); a stream without a finish reason is
an interruption, a blocked prompt a refused request.

The SDK never reads the environment here: the key is passed (a missing one is refused before any request),
``vertexai``, the API version and the base URL are explicit, automatic function calling is off, and the
SDK does not retry (the registry does). Its HTTP client is an httpx2 client of ours, registered with
:mod:`~arena_app.providers.sockets` and with a response hook, so a cancel closes the request's socket
whether or not a response has started.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx2
from google import genai
from google.genai import types

from arena_app.providers import sockets
from arena_app.providers.base import (
    ChatMessage,
    EndpointTarget,
    Finish,
    GenerationParams,
    TextDelta,
    UpstreamCall,
)
from arena_app.providers.errors import AuthenticationFailed
from arena_app.providers.google_cloud import blocked, google_call
from arena_app.providers.sdk_client import SdkProvider, describe

FINISH_REASONS = {"STOP": "stop", "MAX_TOKENS": "length"}
FILTERED = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "LANGUAGE"}
)


class _ResponseTracker:
    """Remembers, per thread, the latest HTTP response of the SDK client (an httpx2 response hook), so
    that a cancel from another thread can shut down the connection of a stream in progress."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[int, httpx2.Response] = {}

    def record(self, response: httpx2.Response) -> None:
        with self._lock:
            self._latest[threading.get_ident()] = response

    def latest(self, ident: int) -> httpx2.Response | None:
        with self._lock:
            return self._latest.get(ident)

    def forget(self, ident: int) -> None:
        with self._lock:
            self._latest.pop(ident, None)


class _Stream:
    """What ``open_stream`` returns: the SDK's chunks, and ``response`` for attempts.shutdown_response."""

    def __init__(self, tracker: _ResponseTracker, first: Any, rest: Iterator[Any]) -> None:
        self._tracker = tracker
        self._ident = threading.get_ident()
        self._first = first
        self._rest = rest

    @property
    def response(self) -> httpx2.Response | None:
        return self._tracker.latest(self._ident)

    def __iter__(self) -> Iterator[Any]:
        if self._first is not None:
            yield self._first
        yield from self._rest

    def close(self) -> None:
        response = self.response
        self._tracker.forget(self._ident)
        close = getattr(self._rest, "close", None)
        if close is not None:
            close()
        if response is not None:
            response.close()


class GeminiProvider(SdkProvider):
    """One Gemini endpoint (one api_base) of one model; ``vertex=True`` for Gemini on Vertex AI."""

    def __init__(self, target: EndpointTarget, *, streaming: bool = True, vertex: bool = False) -> None:
        self.target = target
        self.streaming = streaming
        self.vertex = vertex
        key = target.api_key.get_secret_value() if target.api_key is not None else ""
        self._key = key
        self._secrets = (key,) if key else ()
        self._where = describe(target)
        self._responses = _ResponseTracker()
        t = target.timeouts
        self._http = httpx2.Client(
            timeout=httpx2.Timeout(t.total_s, connect=t.connect_s),
            event_hooks={"response": [self._responses.record]},
        )
        sockets.install(self._http)
        http_options = types.HttpOptions(
            base_url=target.api_base,
            api_version="v1beta1" if vertex else "v1beta",
            httpx_client=self._http,
        )
        if vertex:
            self._client = genai.Client(
                vertexai=True,
                project=target.options["project_id"],
                location=target.options["location"],
                http_options=http_options,
            )
        else:  # "missing": never let the SDK fall back to GEMINI_API_KEY / GOOGLE_API_KEY behind our back
            self._client = genai.Client(vertexai=False, api_key=key or "missing", http_options=http_options)

    def __repr__(self) -> str:
        return f"GeminiProvider({self._where!r}, vertex={self.vertex})"

    def close(self) -> None:
        self._client.close()
        self._http.close()

    def _config(self, messages: list[ChatMessage], params: GenerationParams) -> types.GenerateContentConfig:
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        return types.GenerateContentConfig(
            system_instruction=system or None,
            temperature=params.temperature,
            top_p=params.top_p,
            max_output_tokens=params.max_new_tokens,
            stop_sequences=list(params.stop) or None,
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
            http_options=types.HttpOptions(extra_body=dict(params.extra_body)) if params.extra_body else None,
        )

    def call(self, messages: list[ChatMessage], params: GenerationParams) -> UpstreamCall[Any]:
        if not self.vertex and not self._key:
            raise AuthenticationFailed(
                "No API key is configured for the model; the operator should set its api_key_env."
            )
        contents = [
            types.Content(
                role="model" if m.role == "assistant" else "user", parts=[types.Part(text=m.content)]
            )
            for m in messages
            if m.role != "system"
        ]
        config = self._config(messages, params)
        model = self.target.model_name

        def open_stream() -> _Stream:
            if not self.streaming:
                whole = self._client.models.generate_content(model=model, contents=contents, config=config)
                return _Stream(self._responses, whole, iter(()))
            chunks = self._client.models.generate_content_stream(
                model=model, contents=contents, config=config
            )
            return _Stream(self._responses, next(chunks, None), chunks)  # next(): sends the request

        return google_call(self.target, self._secrets, open_stream, _events)


def _events(stream: _Stream) -> Iterator[TextDelta | Finish]:
    finish: str | None = None
    output_tokens: int | None = None
    for chunk in stream:
        feedback = chunk.prompt_feedback
        if feedback is not None and feedback.block_reason is not None and not chunk.candidates:
            raise blocked(_name(feedback.block_reason))
        usage = chunk.usage_metadata
        if usage is not None and usage.candidates_token_count is not None:
            output_tokens = usage.candidates_token_count + (usage.thoughts_token_count or 0)
        for candidate in (chunk.candidates or ())[:1]:
            parts = candidate.content.parts if candidate.content is not None else None
            for part in parts or ():
                if part.text and not part.thought:
                    yield TextDelta(part.text)
            if candidate.finish_reason is not None:
                finish = _finish_reason(_name(candidate.finish_reason))
    if finish is None:
        return  # no finish reason: the stream broke off (read_attempt reports the interruption)
    yield Finish(finish, output_tokens)


def _name(value: Any) -> str:
    return str(getattr(value, "value", value))


def _finish_reason(reason: str) -> str:
    if reason in FINISH_REASONS:
        return FINISH_REASONS[reason]
    return "content_filter" if reason in FILTERED else reason.lower()
