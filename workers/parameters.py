"""Every OpenAI chat-completions request field: honoured, accepted without effect, or refused with HTTP 400
naming it (docs/worker.md has the same table with the reasons). Nothing is silently ignored: a field the
worker does not know gets OpenAI's own "Unrecognized request argument supplied" error.

Also the body itself: its content type, an empty body, invalid JSON and a body that is not an object each
get their own message, before any field is looked at.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from workers.errors import RequestError

#: fields the request model validates and the worker applies (protocol.ChatCompletionRequest)
HONOURED = frozenset(
    {
        "model",
        "messages",
        "stream",
        "stream_options",
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "n",
        "seed",
    }
)
#: identifiers and metadata for the caller's own bookkeeping: accepted, nothing to apply
NO_EFFECT = frozenset({"user", "metadata", "safety_identifier", "prompt_cache_key"})


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == {} or value is False


_NO_PENALTIES = (
    "penalties are not supported (the batching engine applies only temperature and top_p per request)"
)

#: field -> (allowed when, why not otherwise). Values a client sends to mean "off" are allowed.
REFUSED: dict[str, tuple[Callable[[Any], bool], str]] = {
    "tools": (_empty, "tool calling is not supported (the worker has no tool-call parser for local models)"),
    "tool_choice": (lambda v: v in (None, "none"), "tool calling is not supported"),
    "parallel_tool_calls": (lambda v: v is None, "tool calling is not supported"),
    "functions": (_empty, "function calling is not supported"),
    "function_call": (lambda v: v in (None, "none"), "function calling is not supported"),
    "response_format": (
        lambda v: v is None or v == {"type": "text"},
        'JSON mode and structured outputs are not supported (no constrained decoding); only {"type": "text"}',
    ),
    "logprobs": (
        _empty,
        "the batching engine reports only the chosen token's probability after temperature and top_p, "
        "not OpenAI's log probabilities, and no alternatives",
    ),
    "top_logprobs": (lambda v: v in (None, 0), "the batching engine reports no alternative tokens"),
    "presence_penalty": (lambda v: v in (None, 0), _NO_PENALTIES),
    "frequency_penalty": (lambda v: v in (None, 0), _NO_PENALTIES),
    "logit_bias": (_empty, "logit bias is not supported (no per-request logits processor for it)"),
    "modalities": (lambda v: v is None or v == ["text"], "the worker produces text only"),
    "audio": (lambda v: v is None, "the worker produces text only"),
    "prediction": (lambda v: v is None, "predicted outputs are not supported"),
    "reasoning_effort": (lambda v: v is None, "the worker has no reasoning-effort control"),
    "verbosity": (lambda v: v is None, "the worker has no verbosity control"),
    "web_search_options": (lambda v: v is None, "the worker cannot search the web"),
    "store": (_empty, "the worker does not store completions"),
    "service_tier": (lambda v: v in (None, "auto", "default"), "the worker has one service tier"),
}


def parse_body(raw: bytes, content_type: str | None) -> dict[str, Any]:
    """The request body as a JSON object, or a RequestError saying what is wrong with it."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        raise RequestError(
            f"the request body must be JSON: send Content-Type: application/json (got {media_type!r})",
            code="unsupported_media_type",
            status=415,
        )
    if not raw.strip():
        raise RequestError(
            "the request body is empty: send a JSON object with at least model and messages",
            code="invalid_request_body",
        )
    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        raise RequestError("the request body is not UTF-8 text", code="invalid_json") from None
    except json.JSONDecodeError as exc:
        raise RequestError(
            f"the request body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            code="invalid_json",
        ) from None
    if not isinstance(data, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(data), "a number"
        )
        raise RequestError(
            f"the request body must be a JSON object with model and messages, not {kind}",
            code="invalid_request_body",
        )
    return data


def check_parameters(data: dict[str, Any]) -> None:
    """Refuse (HTTP 400, the field named) every field the worker would otherwise have to ignore."""
    for name, value in data.items():
        if name in HONOURED or name in NO_EFFECT:
            continue
        if name in REFUSED:
            allowed, why = REFUSED[name]
            if not allowed(value):
                raise RequestError(
                    f"{name} is not supported by this worker: {why}", param=name, code="unsupported_parameter"
                )
            continue
        raise RequestError(
            f"Unrecognized request argument supplied: {name}", param=name, code="unknown_parameter"
        )
    n = data.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n > 1:
        raise RequestError(
            f"n={n} is not supported: the worker returns one choice per request; send n=1 (or leave it out) "
            "and make several requests",
            param="n",
            code="unsupported_value",
        )
    if data.get("seed") is not None and data.get("temperature", 1.0) != 0:
        raise RequestError(
            "seed is supported only with temperature 0: the batching engine samples every request in a batch "
            "with one shared random generator, so a per-request seed cannot make a sampled answer "
            "reproducible (start the worker with --seed for reproducible runs)",
            param="seed",
            code="unsupported_value",
        )
    options = data.get("stream_options")
    if options is not None:
        if data.get("stream") is not True:
            raise RequestError("stream_options is only allowed when stream is true", param="stream_options")
        extra = (
            {k: v for k, v in options.items() if k != "include_usage"} if isinstance(options, dict) else {}
        )
        for key, value in extra.items():
            if not (key == "include_obfuscation" and value is False):
                raise RequestError(
                    f"stream_options.{key} is not supported (only include_usage)",
                    param="stream_options",
                    code="unsupported_parameter",
                )
    for i, message in enumerate(data.get("messages") or ()):
        if not isinstance(message, dict):
            continue
        if (
            message.get("role") in ("tool", "function")
            or message.get("tool_calls")
            or message.get("function_call")
        ):
            raise RequestError(
                f"messages[{i}]: tool and function messages are not supported (nor is tool calling)",
                param=f"messages[{i}]",
                code="unsupported_parameter",
            )
