"""The one interface every provider implements, and the values it exchanges.

A provider prepares one request to its endpoint as an :class:`UpstreamCall` (:meth:`Provider.call`):
``open()`` sends it, ``events(stream)`` yields :class:`TextDelta` items and finally one :class:`Finish`,
``translate(exc, started)`` turns an SDK/HTTP exception into a
:class:`~arena_app.providers.errors.ProviderError`. Reading it (with the deadlines of its
:class:`Timeouts` and prompt cancellation) is shared by every provider:
:mod:`arena_app.providers.answer_threads` reads a call in one thread and yields :class:`TextDelta` items
then exactly one :class:`Completion` to whoever waits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar
from urllib.parse import urlsplit

from pydantic import SecretStr

from arena_app.providers.errors import BadRequest, ProviderError

Role = Literal["system", "user", "assistant"]


def url_host(url: str) -> str:
    """The host[:port] of ``url`` for listings and logs, without any ``user:password@`` part."""
    return urlsplit(url).netloc.rpartition("@")[2]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class GenerationParams:
    temperature: float = 0.7
    top_p: float = 1.0
    max_new_tokens: int = 1024
    stop: tuple[str, ...] = ()
    extra_body: dict[str, object] = field(default_factory=dict)


def check_params(params: GenerationParams) -> None:
    """Refuse values no provider can send (the services check the ranges first; this is the last guard
    before an endpoint is tried): :class:`BadRequest`, which does not count against an endpoint's health."""
    if not (math.isfinite(params.temperature) and math.isfinite(params.top_p)) or params.max_new_tokens < 1:
        raise BadRequest(
            f"Invalid generation parameters (temperature {params.temperature}, top p {params.top_p}, "
            f"max tokens {params.max_new_tokens})."
        )


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Completion:
    """End of a successful stream."""

    finish_reason: str  # "stop" | "length" | provider-specific value passed through
    output_tokens: int | None  # from the upstream usage report; None if the server gave none
    ttft_s: float | None  # seconds from request start to first non-empty delta
    total_s: float


StreamEvent = TextDelta | Completion


@dataclass(frozen=True)
class Timeouts:
    """Limits for one request. ``first_token_s`` counts from the request start to the first text."""

    connect_s: float = 10.0
    first_token_s: float = 60.0
    total_s: float = 300.0


@dataclass(frozen=True)
class EndpointTarget:
    """Everything a provider needs to talk to one upstream URL for one model."""

    model_key: str  # the display name (endpoint-file key); used in logs only
    model_name: str  # the model name sent upstream
    api_base: str
    api_key: SecretStr | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    #: per-type settings (target_options.py: Vertex project and location, Yandex folder...)
    options: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)

    def __repr__(self) -> str:  # never show the key, and only the host of the URL
        return f"EndpointTarget({self.model_key!r}, {self.model_name!r}, host={url_host(self.api_base)!r})"


@dataclass(frozen=True)
class Finish:
    """The provider's end-of-stream report; turned into a :class:`Completion` with timings."""

    finish_reason: str
    output_tokens: int | None


StreamT = TypeVar("StreamT")


@dataclass(frozen=True)
class UpstreamCall(Generic[StreamT]):
    """One request to one endpoint, prepared but not sent."""

    open: Callable[[], StreamT]  # send the request; returns the SDK's stream (or response) object
    events: Callable[[StreamT], Iterator[TextDelta | Finish]]  # ends with one Finish, or breaks off
    translate: Callable[[Exception, bool], ProviderError]  # (exc, text already delivered) -> error
    timeouts: Timeouts


class Provider(Protocol):
    """One upstream endpoint (one api_base) of one model."""

    def call(self, messages: list[ChatMessage], params: GenerationParams) -> UpstreamCall[Any]:
        """Prepare one request (no I/O). May raise a ProviderError (e.g. no key configured)."""
        ...
