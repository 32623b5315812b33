"""What the openai and anthropic providers share: SDK client options, the translated upstream call and
the one-attempt ``stream()`` for direct use."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import httpx2

from arena_app.providers import sockets
from arena_app.providers.answer_threads import stream_answer
from arena_app.providers.attempts import read_attempt
from arena_app.providers.base import (
    ChatMessage,
    EndpointTarget,
    Finish,
    GenerationParams,
    StreamEvent,
    TextDelta,
    UpstreamCall,
    url_host,
)
from arena_app.providers.errors import ProviderError
from arena_app.providers.sdk_errors import translate

StreamT = TypeVar("StreamT")


def describe(target: EndpointTarget) -> str:
    """``model @ host`` for logs and reprs (never the path, credentials or key)."""
    return f"{target.model_key} @ {url_host(target.api_base)}"


def client_options(target: EndpointTarget, http_client: Any) -> dict[str, Any]:
    """Keyword arguments common to ``openai.OpenAI`` and ``anthropic.Anthropic`` for one endpoint.

    ``http_client`` is the SDK's ``DefaultHttpxClient()``; its sockets are registered so that a cancel can
    close a request that has no response yet. The SDK never retries (the registry retries, and only
    before the first token). Its read timeout is the total deadline, a backstop only: first-token and total
    deadlines are enforced by whoever waits for the answer (:mod:`arena_app.providers.answer_threads`)
    without waiting for a read to time out.
    """
    sockets.install(http_client)
    t = target.timeouts
    return {
        "http_client": http_client,
        "base_url": target.api_base,
        "max_retries": 0,
        "timeout": httpx2.Timeout(t.total_s, connect=t.connect_s),
    }


def sdk_call(
    target: EndpointTarget,
    secrets: Sequence[str],
    open_stream: Callable[[], StreamT],
    events: Callable[[StreamT], Iterator[TextDelta | Finish]],
) -> UpstreamCall[StreamT]:
    """An :class:`UpstreamCall` whose SDK exceptions are translated (secrets scrubbed, the endpoint named)."""
    where = describe(target)

    def translate_exc(exc: Exception, started: bool) -> ProviderError:
        return translate(exc, started, timeouts=target.timeouts, secrets=tuple(secrets), where=where)

    return UpstreamCall(open_stream, events, translate_exc, target.timeouts)


class SdkProvider:
    """Base of the SDK providers: subclasses implement :meth:`call` (the registry's one method)."""

    def call(self, messages: list[ChatMessage], params: GenerationParams) -> UpstreamCall[Any]:
        raise NotImplementedError

    def stream(
        self,
        messages: list[ChatMessage],
        params: GenerationParams,
        cancel: threading.Event | None = None,
    ) -> Iterator[StreamEvent]:
        """One attempt, no retries, as a generator: TextDelta items then one Completion (direct use and
        tests; the app goes through the registry). Closing it or setting ``cancel`` aborts the request."""
        return stream_answer(
            lambda control, on_text: read_attempt(self.call(messages, params), control, on_text), cancel
        )
