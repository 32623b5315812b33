"""The worker's exception tree.

``WorkerError`` is the root. The HTTP layer turns ``RequestError`` subclasses into OpenAI-style error JSON
with their ``status`` and ``code``; everything else is a 500.
"""

from __future__ import annotations


class WorkerError(Exception):
    """Base class of every error the worker raises on purpose."""


class ModelLoadError(WorkerError):
    """The model or tokenizer could not be loaded (bad path, bad flags, no GPU...)."""


class EngineError(WorkerError):
    """The batching engine failed while generating (the request cannot complete)."""


class RequestError(WorkerError):
    """A client request that cannot be served as sent; maps to an HTTP 4xx/503."""

    status = 400
    code: str | None = None
    param: str | None = None
    type = "invalid_request_error"

    def __init__(
        self, message: str, *, param: str | None = None, code: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        if param is not None:
            self.param = param
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class ContextLengthError(RequestError):
    """Prompt plus requested completion do not fit the model's context window."""

    code = "context_length_exceeded"
    param = "messages"


class ModelNotFoundError(RequestError):
    """The request names a model this worker does not serve."""

    status = 404
    code = "model_not_found"
    param = "model"


class NotReadyError(RequestError):
    """The model is still loading (or failed to load)."""

    status = 503
    code = "model_not_ready"
    type = "service_unavailable"
