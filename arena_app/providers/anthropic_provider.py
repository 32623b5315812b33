"""Anthropic Messages API streaming through the official anthropic SDK (api_type "anthropic_message",
alias "anthropic").

System messages are joined and passed as ``system`` (the Anthropic way), the rest as ``messages``.
Sampling: ``max_tokens`` always; ``temperature`` clamped to Anthropic's 0..1 range; ``top_p`` only when it
restricts sampling (< 1), because recent Claude models refuse requests that set both temperature and top_p.
``stop`` becomes ``stop_sequences``. Stop reasons are mapped to the OpenAI vocabulary ("end_turn" -> "stop",
"max_tokens" -> "length") so callers see one set of values.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic

from arena_app.providers.base import (
    ChatMessage,
    EndpointTarget,
    Finish,
    GenerationParams,
    TextDelta,
    UpstreamCall,
)
from arena_app.providers.errors import AuthenticationFailed
from arena_app.providers.sdk_client import SdkProvider, client_options, describe, sdk_call

STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}


class AnthropicProvider(SdkProvider):
    """One Anthropic Messages endpoint (one api_base) of one model."""

    def __init__(self, target: EndpointTarget) -> None:
        self.target = target
        key = target.api_key.get_secret_value() if target.api_key is not None else ""
        self._key = key
        self._secrets = (key,) if key else ()
        self._client = anthropic.Anthropic(
            # never read ANTHROPIC_API_KEY behind our back; a missing key is refused in stream()
            api_key=key or "missing",
            **client_options(target, anthropic.DefaultHttpxClient()),
        )
        self._where = describe(target)

    def __repr__(self) -> str:
        return f"AnthropicProvider({self._where!r})"

    def close(self) -> None:
        self._client.close()

    def _request(self, messages: list[ChatMessage], params: GenerationParams) -> dict[str, Any]:
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        # anthropic SDK 2.x has no typed temperature/top_p arguments; they travel in the JSON body.
        sampling: dict[str, Any] = {"temperature": min(params.temperature, 1.0)}
        if params.top_p < 1.0:
            sampling["top_p"] = params.top_p
        req: dict[str, Any] = {
            "model": self.target.model_name,
            "messages": [{"role": m.role, "content": m.content} for m in messages if m.role != "system"],
            "max_tokens": params.max_new_tokens,
            "extra_body": {**sampling, **params.extra_body},
        }
        if system:
            req["system"] = system
        if params.stop:
            req["stop_sequences"] = list(params.stop)
        return req

    def call(self, messages: list[ChatMessage], params: GenerationParams) -> UpstreamCall[Any]:
        if not self._key:
            raise AuthenticationFailed(
                "No API key is configured for the model; the operator should set its api_key_env."
            )
        req = self._request(messages, params)

        def open_stream() -> Any:
            return self._client.messages.create(**req, stream=True)

        return sdk_call(self.target, self._secrets, open_stream, _events)


def _events(stream: Any) -> Iterator[TextDelta | Finish]:
    stop_reason: str | None = None
    output_tokens: int | None = None
    stopped = False
    for event in stream:
        kind = event.type
        if kind == "content_block_delta":
            text = getattr(event.delta, "text", None)
            if text:
                yield TextDelta(text)
        elif kind == "message_start":
            usage = getattr(event.message, "usage", None)
            output_tokens = getattr(usage, "output_tokens", None)
        elif kind == "message_delta":
            stop_reason = event.delta.stop_reason or stop_reason
            usage = getattr(event, "usage", None)
            if usage is not None and getattr(usage, "output_tokens", None) is not None:
                output_tokens = int(usage.output_tokens)
        elif kind == "message_stop":
            stopped = True
    if not stopped:
        return  # no message_stop: the stream broke off (read_attempt reports the interruption)
    reason = stop_reason or "stop"
    yield Finish(STOP_REASONS.get(reason, reason), output_tokens)
