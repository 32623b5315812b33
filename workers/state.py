"""Worker start-up options, the loaded-or-not state of one app, and per-request generation planning."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workers.errors import ContextLengthError, NotReadyError
from workers.loading import LoadedModel
from workers.metrics import Metrics
from workers.prompting import NO_TEMPLATE_WARNING
from workers.protocol import ChatCompletionRequest

logger = logging.getLogger("workers")


@dataclass(frozen=True)
class WorkerOptions:
    model_path: str
    model_name: str
    host: str = "127.0.0.1"
    port: int = 21002
    device: str = "auto"
    dtype: str = "auto"
    max_batch_size: int = 16
    max_new_tokens_limit: int = 1024
    kv_cache_tokens: int | None = None
    cpu_threads: int | None = None
    seed: int | None = None


class WorkerState:
    """The engine once loaded, or why it is not there yet. One per app; no module-level globals."""

    def __init__(
        self, options: WorkerOptions, metrics: Metrics, on_load_error: Callable[[str], None] | None = None
    ) -> None:
        self.options = options
        self._on_load_error = on_load_error
        self.metrics = metrics
        self.engine: Any = None  # BatchingEngine, imported lazily with torch
        self.loaded: LoadedModel | None = None
        self.error: str | None = None
        self._closed = False
        self._lock = threading.Lock()

    def load(self, loader: Callable[[], LoadedModel]) -> None:
        from workers.engine import BatchingEngine, EngineConfig

        try:
            started = time.monotonic()
            loaded = loader()
            if not loaded.has_chat_template:
                logger.warning(NO_TEMPLATE_WARNING.format(name=loaded.name))
            engine = BatchingEngine(
                loaded,
                EngineConfig(
                    max_batch_size=self.options.max_batch_size,
                    kv_cache_tokens=self.options.kv_cache_tokens,
                    seed=self.options.seed,
                ),
                self.metrics,
            )
            with self._lock:
                if self._closed:
                    return
                engine.start()
                self.loaded, self.engine = loaded, engine
            logger.info(
                "model %r ready on %s (%s) in %.1f s",
                loaded.name,
                loaded.device,
                loaded.dtype,
                time.monotonic() - started,
            )
        except Exception as exc:  # reported by /health; the server stays up to say so
            self.error = f"{type(exc).__name__}: {exc}"
            logger.error("model failed to load: %s", self.error)
            if self._on_load_error is not None:
                self._on_load_error(self.error)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self.engine is not None:
                self.engine.stop()

    def ready(self) -> tuple[Any, LoadedModel]:
        if self.engine is None or self.loaded is None:
            why = f"failed to load: {self.error}" if self.error else "is still loading"
            raise NotReadyError(f"model {self.options.model_name!r} {why}")
        if not self.engine.is_running():
            raise NotReadyError("the generation engine has stopped; restart the worker")
        return self.engine, self.loaded


def plan_generation(
    body: ChatCompletionRequest, prompt_len: int, context_length: int, limit: int
) -> tuple[float, float, int]:
    """(temperature, top_p, max_new_tokens) for a request; raises ContextLengthError when it cannot fit."""
    requested = body.max_completion_tokens or body.max_tokens
    room = context_length - prompt_len
    if requested is None:
        if room < 1:
            raise ContextLengthError(
                f"This model's maximum context length is {context_length} tokens. However, your messages "
                f"resulted in {prompt_len} tokens. Please reduce the length of the messages."
            )
        max_new = min(limit, room)
    else:
        max_new = min(requested, limit)
        if prompt_len + max_new > context_length:
            raise ContextLengthError(
                f"This model's maximum context length is {context_length} tokens. However, you requested "
                f"{prompt_len + max_new} tokens ({prompt_len} in the messages, {max_new} in the completion). "
                "Please reduce the length of the messages or completion."
            )
    temperature = 1.0 if body.temperature is None else body.temperature
    top_p = 1.0 if body.top_p is None else body.top_p
    return temperature, top_p, max_new
