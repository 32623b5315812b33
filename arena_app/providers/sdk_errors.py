"""Translate openai / anthropic SDK exceptions into the provider exception tree.

Both SDKs share a shape (``APIStatusError`` with ``status_code`` and ``body``, ``APIConnectionError``,
``APITimeoutError``, ``APIError`` for in-stream errors), so one duck-typed translator serves both. The
messages are ours; an upstream message is quoted only for refused requests (HTTP 400 etc.), where it
tells the user what to change, and only after :func:`scrub` removed keys and URLs.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import httpx2

from arena_app.providers.base import Timeouts
from arena_app.providers.errors import (
    AuthenticationFailed,
    BadRequest,
    ContextTooLong,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    StreamInterrupted,
    UpstreamUnavailable,
)

log = logging.getLogger("arena_app.providers")

_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
_KEYLIKE = re.compile(r"\b(sk|key|pk|rk)-[A-Za-z0-9_\-*]{6,}", re.IGNORECASE)
_CONTEXT = re.compile(
    r"context[ _-]?(length|window)|maximum context|too many tokens|prompt is too long|input is too long|"
    r"reduce the length|max_tokens.*exceed",
    re.IGNORECASE,
)


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove secrets, URLs and key-like tokens from an upstream message; keep it short."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _URL.sub("[url]", text)
    text = _KEYLIKE.sub("[redacted]", text)
    text = " ".join(text.split())
    return text[:200] + ("..." if len(text) > 200 else "")


def _upstream_message(body: Any) -> str:
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            msg = inner.get("message")
            if isinstance(msg, str):
                return msg
        elif isinstance(inner, str):
            return inner
        msg = body.get("message") or body.get("detail")
        if isinstance(msg, str):
            return msg
    return ""


def _error_type(body: Any) -> str:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("type") or inner.get("code") or "")
    return ""


def _is_connect_timeout(exc: BaseException) -> bool:
    cur: BaseException | None = exc
    while cur is not None:
        if "ConnectTimeout" in type(cur).__name__ or "PoolTimeout" in type(cur).__name__:
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def _from_status(status: int, detail: str, etype: str) -> ProviderError:
    """``status`` 0: an error event inside an HTTP 200 stream, described by its ``etype``."""
    code = f"HTTP {status}" if status else (etype or "error event")
    if status in (401, 403) or etype in ("authentication_error", "permission_error"):
        return AuthenticationFailed(
            f"The model's provider rejected the API key ({code}); the operator should check the "
            "key configured for this model."
        )
    if status == 429 or etype == "rate_limit_error":
        return RateLimited(
            "The model's provider is rate-limiting requests right now; try again in a minute.", retryable=True
        )
    if status in (400, 404, 413, 422) or etype in ("invalid_request_error", "not_found_error"):
        if _CONTEXT.search(detail) or status == 413:
            return ContextTooLong("The conversation is too long for the model; start a new one.")
        suffix = f": {detail}" if detail else ""
        return BadRequest(f"The model's provider refused the request ({code}){suffix}")
    if status >= 500 or status in (0, 408, 409) or etype in ("overloaded_error", "api_error"):
        return UpstreamUnavailable(
            f"The model's server failed ({code}); try again in a moment.", retryable=True
        )
    suffix = f": {detail}" if detail else ""
    return BadRequest(f"The model's provider refused the request ({code}){suffix}")


def translate(
    exc: BaseException, started: bool, *, timeouts: Timeouts, secrets: tuple[str, ...] = (), where: str = ""
) -> ProviderError:
    """Map an exception raised while opening or reading a stream to a ProviderError.

    ``started``: text has already been shown, so any failure is an interruption (never retried).
    ``where``: "model-key @ host" for the operator's log line.
    """
    err = _translate(exc, started, timeouts, secrets)
    log.warning("%s: %s (%s)", where or "provider", err.message, type(exc).__name__)
    return err


def _translate(
    exc: BaseException, started: bool, timeouts: Timeouts, secrets: tuple[str, ...]
) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    body = getattr(exc, "body", None)
    if isinstance(status, int) and status >= 400 and not started:
        return _from_status(status, scrub(_upstream_message(body), secrets), _error_type(body))
    if "Timeout" in name:
        if _is_connect_timeout(exc):
            return ProviderTimeout(
                f"The model's server could not be reached within {timeouts.connect_s:g} s.", retryable=True
            )
        return ProviderTimeout("The model stopped sending its answer (the server went silent).")
    # openai wraps a dropped connection in APIConnectionError; anthropic lets httpx2's own errors through
    if "Connection" in name or isinstance(exc, httpx2.TransportError):
        if started:
            return StreamInterrupted("The model's answer broke off: the connection to its server was lost.")
        return UpstreamUnavailable(
            "The model's server is unreachable or dropped the connection; try again later.", retryable=True
        )
    if isinstance(exc, ValueError | KeyError | AttributeError):
        # sse.json() on a malformed event, or an event with an unexpected shape
        return StreamInterrupted(
            "The model's answer broke off: its server sent malformed data.", retryable=not started
        )
    if body is not None or "APIError" in name or (isinstance(status, int) and status < 400):
        # an error event inside the stream (HTTP 200)
        if started:
            etype = _error_type(body) or "error"
            return StreamInterrupted(
                f"The model's answer broke off: its provider reported an error ({etype})."
            )
        return _from_status(
            status if isinstance(status, int) and status >= 400 else 0,
            scrub(_upstream_message(body), secrets),
            _error_type(body),
        )
    log.error("unexpected %s from a provider", name, exc_info=exc)  # a bug here or in the SDK: keep the trace
    if started:
        return StreamInterrupted(f"The model's answer broke off unexpectedly ({name}).")
    return UpstreamUnavailable(f"The model's server failed unexpectedly ({name}).")
