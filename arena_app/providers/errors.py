"""The provider exception tree. SDK and HTTP errors are translated into these at the provider boundary.

Every error carries a message a user can act on; :meth:`ProviderError.for_side` renders it for one side of
a battle ("Model B did not answer within 60 s"). Messages never contain API keys or endpoint URLs.

    ProviderError
    ├── AuthenticationFailed      401/403: the key is missing, wrong or lacks access
    ├── RateLimited               429: the upstream asked us to slow down
    │   └── ModelBusy             every endpoint of the model is at its max_concurrency for too long
    ├── ProviderTimeout           connect / first-token / total timeout
    ├── BadRequest                400/404/422: the request was refused
    │   └── ContextTooLong        the conversation exceeds the model's context window
    ├── UpstreamUnavailable       5xx, connection refused, DNS failure, no healthy endpoint
    ├── StreamInterrupted         the stream broke after it started (disconnect, malformed event, error event)
    └── Cancelled                 the user stopped the generation (not a failure of the model)

Configuration problems are not provider errors: :class:`EndpointFileError` (a bad endpoint file) and
:class:`UnknownModelError` (a name the registry does not know).
"""

from __future__ import annotations


class ProviderError(Exception):
    """Base class. ``str(err)`` is a user-safe sentence about "the model"."""

    #: whether this failure counts against the endpoint's health
    counts_as_failure: bool = True

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable

    def for_side(self, label: str) -> str:
        """The message with "the model" replaced by a side label such as "Model B"."""
        msg = self.message
        if msg.startswith("The model"):
            return label + msg[len("The model") :]
        return f"{label}: {msg}"


class AuthenticationFailed(ProviderError):
    pass


class RateLimited(ProviderError):
    pass


class ModelBusy(RateLimited):
    """Local back-pressure: no free slot within ``queue_timeout_s`` (not held against the model's health)."""

    counts_as_failure = False


class ProviderTimeout(ProviderError):
    pass


class BadRequest(ProviderError):
    counts_as_failure = False


class ContextTooLong(BadRequest):
    pass


class UpstreamUnavailable(ProviderError):
    pass


class StreamInterrupted(ProviderError):
    pass


class Cancelled(ProviderError):
    counts_as_failure = False

    def __init__(self, message: str = "The model's answer was stopped.") -> None:
        super().__init__(message)


class EndpointFileError(ValueError):
    """The endpoint file is missing or invalid. ``problems`` lists every problem, each naming the model key;
    ``str()`` is ``"<source>: <problem>"`` for one, else ``"<source>: N problems:"`` and one per line."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        if len(self.problems) == 1:
            super().__init__(f"{source}: {self.problems[0]}")
        else:
            lines = "\n".join("  " + p for p in self.problems)
            super().__init__(f"{source}: {len(self.problems)} problems:\n{lines}")


class UnknownModelError(KeyError):
    """The registry has no model of that name."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(name)
        self.name = name
        self.known = known

    def __str__(self) -> str:
        return f"unknown model '{self.name}'; known models: {', '.join(self.known) or '(none)'}"
