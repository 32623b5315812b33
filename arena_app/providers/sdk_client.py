"""What the openai and anthropic providers share: SDK client options and the guarded, translated stream."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx2

from arena_app.providers import sockets
from arena_app.providers.base import EndpointTarget, StreamEvent, TextDelta, url_host
from arena_app.providers.sdk_errors import translate
from arena_app.providers.streaming import Finish, guarded_stream


def describe(target: EndpointTarget) -> str:
    """``model @ host`` for logs and reprs (never the path, credentials or key)."""
    return f"{target.model_key} @ {url_host(target.api_base)}"


def client_options(target: EndpointTarget, http_client: Any) -> dict[str, Any]:
    """Keyword arguments common to ``openai.OpenAI`` and ``anthropic.Anthropic`` for one endpoint.

    ``http_client`` is the SDK's ``DefaultHttpxClient()``; its sockets are registered so that a cancel can
    close a request that has no response yet. The SDK never retries (the registry retries, and only
    before the first token). Its read timeout is the total deadline, a backstop only: first-token and total
    deadlines are enforced by :func:`guarded_stream` without waiting for a read to time out.
    """
    sockets.install(http_client)
    t = target.timeouts
    return {
        "http_client": http_client,
        "base_url": target.api_base,
        "max_retries": 0,
        "timeout": httpx2.Timeout(t.total_s, connect=t.connect_s),
    }


def sdk_stream(
    target: EndpointTarget,
    secrets: Sequence[str],
    open_stream: Callable[[], Any],
    events: Callable[[Any], Iterator[TextDelta | Finish]],
    cancel: threading.Event | None,
) -> Iterator[StreamEvent]:
    """:func:`guarded_stream` with SDK exceptions translated (secrets scrubbed, the endpoint named)."""
    where = describe(target)

    def translate_exc(exc: BaseException, started: bool) -> Any:
        return translate(exc, started, timeouts=target.timeouts, secrets=tuple(secrets), where=where)

    return guarded_stream(open_stream, events, translate_exc, target.timeouts, cancel)
