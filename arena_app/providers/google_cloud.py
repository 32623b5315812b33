"""What the Google-backed providers share: error translation for the google-genai SDK and for Google
Application Default Credentials (google-auth), and the upstream call that uses it.

google-genai raises ``errors.APIError`` (``code``, ``status``, ``message``, ``details``) rather than the
openai/anthropic shape, and Google answers a bad Gemini API key with HTTP 400 ``API_KEY_INVALID`` rather
than 401; both become the provider exception tree here. Credentials problems (no ADC, a token exchange
refused) come from google-auth, which the Vertex clients call at the first request.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from arena_app.providers.base import EndpointTarget, Finish, TextDelta, UpstreamCall
from arena_app.providers.errors import (
    AuthenticationFailed,
    BadRequest,
    ContextTooLong,
    ProviderError,
    UpstreamUnavailable,
)
from arena_app.providers.sdk_client import describe
from arena_app.providers.sdk_errors import scrub, translate

log = logging.getLogger("arena_app.providers")
StreamT = TypeVar("StreamT")

# Gemini: "The input token count (1048577) exceeds the maximum number of tokens allowed (1048576)."
_GEMINI_CONTEXT = re.compile(
    r"input token count.*exceeds|exceeds the maximum number of tokens", re.IGNORECASE
)


class _StatusError(Exception):
    """An SDK error restated in the openai/anthropic shape that :func:`sdk_errors.translate` reads."""

    def __init__(self, status_code: int, body: dict[str, Any]) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
        self.body = body


def _reasons(details: Any) -> set[str]:
    found: set[str] = set()
    error = details.get("error", details) if isinstance(details, dict) else None
    for item in (error or {}).get("details") or () if isinstance(error, dict) else ():
        if isinstance(item, dict) and isinstance(item.get("reason"), str):
            found.add(item["reason"])
    return found


def translate_google(
    exc: BaseException, started: bool, target: EndpointTarget, secrets: tuple[str, ...]
) -> ProviderError:
    """Map a google-genai, google-auth or transport exception to a ProviderError (see module docstring)."""
    where = describe(target)
    special = _google_specific(exc, started, secrets)
    if isinstance(special, ProviderError):
        log.warning("%s: %s (%s)", where, special.message, type(exc).__name__)
        return special
    return translate(special or exc, started, timeouts=target.timeouts, secrets=secrets, where=where)


def _google_specific(
    exc: BaseException, started: bool, secrets: tuple[str, ...]
) -> ProviderError | BaseException | None:
    """A final error, an equivalent exception for :func:`translate`, or None (translate ``exc`` as is)."""
    from google.auth import exceptions as auth_errors
    from google.genai import errors as genai_errors

    if isinstance(exc, auth_errors.DefaultCredentialsError):
        return AuthenticationFailed(
            "No Google Cloud credentials were found for the model; the operator should set "
            "GOOGLE_APPLICATION_CREDENTIALS or run `gcloud auth application-default login`."
        )
    if isinstance(exc, auth_errors.TransportError):
        return UpstreamUnavailable(
            "Google's token service could not be reached for the model; try again in a moment.",
            retryable=True,
        )
    if isinstance(exc, auth_errors.GoogleAuthError):  # RefreshError and friends: the credentials were refused
        return AuthenticationFailed(
            "Google refused the model's credentials (the token exchange failed); the operator should check "
            "the service account or GOOGLE_APPLICATION_CREDENTIALS."
        )
    if not isinstance(exc, genai_errors.APIError):
        return None
    message = scrub(exc.message or "", secrets)
    if not started and "API_KEY_INVALID" in _reasons(exc.details):
        return AuthenticationFailed(
            "The model's provider rejected the API key (HTTP 400 API_KEY_INVALID); the operator should check "
            "the key configured for this model."
        )
    if not started and exc.code == 400 and _GEMINI_CONTEXT.search(message):
        return ContextTooLong("The conversation is too long for the model; start a new one.")
    return _StatusError(int(exc.code or 0), {"error": {"message": message, "type": exc.status or ""}})


def google_call(
    target: EndpointTarget,
    secrets: Sequence[str],
    open_stream: Callable[[], StreamT],
    events: Callable[[StreamT], Iterator[TextDelta | Finish]],
) -> UpstreamCall[StreamT]:
    """An :class:`UpstreamCall` with Google's errors translated (secrets scrubbed, the endpoint named)."""

    def translate_exc(exc: Exception, started: bool) -> ProviderError:
        return translate_google(exc, started, target, tuple(secrets))

    return UpstreamCall(open_stream, events, translate_exc, target.timeouts)


def blocked(reason: str) -> BadRequest:
    """Gemini refused the prompt itself (``promptFeedback.blockReason``): a refusal, not a failure."""
    return BadRequest(f"The model's provider refused the request: the prompt was blocked ({reason}).")
