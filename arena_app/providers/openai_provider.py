"""OpenAI chat completions (api.openai.com and any OpenAI-compatible server: vLLM, SGLang, TGI, llama.cpp,
Ollama, our own worker) through the official openai SDK.

Sends ``temperature``, ``top_p``, ``max_tokens``, ``stop`` and ``extra_body`` (FastChat drops top_p).
``api_type`` "openai" streams (``stream_options.include_usage`` for the token count); "openai_no_stream"
makes one plain request and yields the whole answer as one delta (for servers that cannot stream).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import openai

from arena_app.providers.base import (
    ChatMessage,
    EndpointTarget,
    Finish,
    GenerationParams,
    TextDelta,
    UpstreamCall,
)
from arena_app.providers.sdk_client import SdkProvider, client_options, describe, sdk_call

# The openai SDK refuses to start without a key; servers that need none (vLLM, Ollama) ignore this one.
NO_KEY = "no-key-configured"


class OpenAIProvider(SdkProvider):
    """One OpenAI-compatible endpoint (one api_base) of one model."""

    def __init__(self, target: EndpointTarget, *, streaming: bool = True) -> None:
        self.target = target
        self.streaming = streaming
        key = target.api_key.get_secret_value() if target.api_key is not None else ""
        self._secrets = (key,) if key else ()
        self._client = openai.OpenAI(
            api_key=key or NO_KEY, **client_options(target, openai.DefaultHttpxClient())
        )
        self._where = describe(target)
        self._usage_option = True  # send stream_options.include_usage (dropped if the server refuses it)

    def __repr__(self) -> str:
        return f"OpenAIProvider({self._where!r})"

    def close(self) -> None:
        self._client.close()

    def _request(self, messages: list[ChatMessage], params: GenerationParams) -> dict[str, Any]:
        req: dict[str, Any] = {
            "model": self.target.model_name,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_new_tokens,
        }
        if params.stop:
            req["stop"] = list(params.stop)
        if params.extra_body:
            req["extra_body"] = dict(params.extra_body)
        return req

    def call(self, messages: list[ChatMessage], params: GenerationParams) -> UpstreamCall[Any]:
        req = self._request(messages, params)
        events: Callable[[Any], Iterator[TextDelta | Finish]]
        if self.streaming:

            def open_stream() -> Any:
                if self._usage_option:
                    try:
                        return self._open_chunks(req, stream_options={"include_usage": True})
                    except openai.BadRequestError as exc:
                        if "stream_options" not in str(exc):
                            raise
                        # an older OpenAI-compatible server: stream without the usage report from now on
                        self._usage_option = False
                return self._open_chunks(req)

            events = _stream_events
        else:

            def open_stream() -> Any:
                return self._client.chat.completions.with_streaming_response.create(**req).__enter__()

            events = _whole_answer

        return sdk_call(self.target, self._secrets, open_stream, events)

    def _open_chunks(self, req: dict[str, Any], **extra: Any) -> openai.Stream[object]:
        """``chat.completions.create(stream=True)`` with the chunks left as parsed JSON: the SDK sends
        the request, raises its errors (mid-stream ``error`` events too) and decodes the SSE, but does not
        build a pydantic model per chunk (``cast_to=object``, the SDK's documented client.post for raw
        requests). That model building was most of the per-token CPU of a battle (bench/README.md)."""
        body = {k: v for k, v in req.items() if k != "extra_body"}
        body.update(extra, stream=True)
        body.update(req.get("extra_body") or {})  # the SDK's extra_body: merged into the JSON last
        return self._client.post(
            "/chat/completions", cast_to=object, body=body, stream=True, stream_cls=openai.Stream[object]
        )


def _stream_events(stream: Any) -> Iterator[TextDelta | Finish]:
    """Text deltas and the finish of a stream of chunk objects (parsed JSON, see ``_open_chunks``). The
    upstream is untrusted: anything that is not the shape of a chunk is ignored."""
    finish_reason: str | None = None
    output_tokens: int | None = None
    for chunk in stream:
        if not isinstance(chunk, dict):
            continue
        usage = chunk.get("usage")
        tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
        if isinstance(tokens, int) and not isinstance(tokens, bool):
            output_tokens = tokens
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            text = delta.get("content") if isinstance(delta, dict) else None
            if text and isinstance(text, str):
                yield TextDelta(text)
            reason = choice.get("finish_reason")
            if reason:
                finish_reason = str(reason)
    if finish_reason is None:
        return  # no finish_reason: the stream broke off (read_attempt reports the interruption)
    yield Finish(finish_reason, output_tokens)


def _whole_answer(response: Any) -> Iterator[TextDelta | Finish]:
    completion = response.parse()
    choice = completion.choices[0]
    if choice.message.content:
        yield TextDelta(choice.message.content)
    usage = completion.usage
    yield Finish(str(choice.finish_reason or "stop"), int(usage.completion_tokens) if usage else None)
