"""The model registry: which models exist, which may battle or chat, and streaming with endpoint choice,
concurrency limits, retries before the first token and health bookkeeping.

    reg = ModelRegistry.from_file("api_endpoints.json")
    for event in reg.stream("gpt-4o", messages, reg.get("gpt-4o").params, cancel=stop_event):
        ...  # TextDelta ... then one Completion; ProviderError subclasses on failure

Each answer is read by one thread of its own (retries included); the thread waiting for it enforces the
deadlines and the cancel event (:mod:`arena_app.providers.answer_threads`).

Endpoint choice, per-endpoint concurrency limits and health (cool-downs after consecutive failures) are
kept by :mod:`arena_app.providers.pool`. A failed attempt is retried (``retries`` times, preferring another
endpoint) only if no text was yielded yet and the error is retryable. A model with no endpoint out of
cool-down leaves :meth:`ModelRegistry.battle_models` and comes back by itself when the cool-down ends;
named chats may still use a cooling model (the user asked for it).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

from arena_app.providers.answer_threads import stream_answer
from arena_app.providers.anthropic_provider import AnthropicProvider
from arena_app.providers.anthropic_vertex_provider import AnthropicVertexProvider
from arena_app.providers.api_types import ROUTED
from arena_app.providers.attempts import AnswerControl, read_attempt
from arena_app.providers.base import (
    ChatMessage,
    Completion,
    EndpointTarget,
    GenerationParams,
    Provider,
    StreamEvent,
    TextDelta,
    check_params,
    url_host,
)
from arena_app.providers.checks import check_endpoints
from arena_app.providers.endpoints import (
    EndpointConfig,
    EndpointEntry,
    load_endpoint_file,
    parse_endpoints,
)
from arena_app.providers.errors import (
    Cancelled,
    EndpointFileError,
    ProviderError,
    RateLimited,
    UnknownModelError,
)
from arena_app.providers.gemini_provider import GeminiProvider
from arena_app.providers.keys import key_source, needs_key, resolve_key
from arena_app.providers.model_info import (
    EndpointCheck,
    EndpointHealth,
    ModelHealth,
    ModelInfo,
    identity_words_for,
    model_info_of,
)
from arena_app.providers.openai_compatible import routed
from arena_app.providers.openai_provider import OpenAIProvider
from arena_app.providers.pool import Endpoint, EndpointPool
from arena_app.providers.target_options import provider_options

__all__ = ["PROVIDERS", "EndpointCheck", "EndpointHealth", "ModelHealth", "ModelInfo", "ModelRegistry"]

log = logging.getLogger("arena_app.providers")

ProviderFactory = Callable[[EndpointTarget], Provider]

#: api_type -> provider class (one small module each). Routed FastChat types (api_types.py) use the
#: openai provider with their vendor's differences; refused types never get this far.
PROVIDERS: dict[str, ProviderFactory] = {
    "openai": OpenAIProvider,
    "openai_no_stream": lambda target: OpenAIProvider(target, streaming=False),
    "anthropic_message": AnthropicProvider,
    "anthropic": AnthropicProvider,
    "gemini": GeminiProvider,
    "gemini_no_stream": lambda target: GeminiProvider(target, streaming=False),
    "vertex": lambda target: GeminiProvider(target, vertex=True),
    "anthropic_message_vertex": AnthropicVertexProvider,
    **{api_type: routed(api_type) for api_type in ROUTED},
}


@dataclass
class _Model:
    info: ModelInfo
    entry: EndpointEntry
    endpoints: list[Endpoint]
    key_configured: bool
    key_source: str


class ModelRegistry:
    """All configured models. Thread-safe; one instance per app.

    ``missing_keys``: what to do with an entry whose ``api_key_env`` is not set: "error" (raise
    EndpointFileError naming the model and variable), "skip" (leave the model out, listed in
    ``skipped``), or "keep" (keep it; ``health_report()`` shows ``key_configured=False``).
    """

    def __init__(
        self,
        config: EndpointConfig,
        *,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        failure_threshold: int = 3,
        cooldown_s: float = 60.0,
        retry_backoff_s: float = 0.5,
        missing_keys: Literal["error", "skip", "keep"] = "error",
        default_max_new_tokens: int | None = None,
        providers: Mapping[str, ProviderFactory] | None = None,
    ) -> None:
        env = os.environ if env is None else env
        factories = PROVIDERS if providers is None else providers
        self._pool = EndpointPool(clock=clock, failure_threshold=failure_threshold, cooldown_s=cooldown_s)
        self.retry_backoff_s = retry_backoff_s
        self._models: dict[str, _Model] = {}
        #: models left out because their key env var is unset (missing_keys="skip"): name -> reason
        self.skipped: dict[str, str] = {}
        #: the endpoint file's notices (routed types, ignored fields...), also logged when it was parsed
        self.notices = config.notices
        problems: list[str] = []
        for name, entry in config.entries.items():
            try:
                key = resolve_key(name, entry, env, require=missing_keys != "keep")
                options = provider_options(name, entry, env)
            except EndpointFileError as exc:
                if missing_keys == "error":
                    problems.extend(exc.problems)  # every model's problem is reported, not the first
                    continue
                self.skipped[name] = exc.problems[0]
                log.warning("skipping model: %s", exc.problems[0])
                continue
            model_name = entry.model_name or name
            endpoints = []
            for base in entry.api_bases(options.get("location")):
                target = EndpointTarget(name, model_name, base, key, entry.timeouts(), options)
                provider = factories[entry.api_type](target)
                endpoints.append(Endpoint(name, provider, url_host(base), entry.max_concurrency))
            hosts = tuple(ep.host for ep in endpoints)
            info = model_info_of(name, entry, hosts, default_max_new_tokens)
            self._models[name] = _Model(info, entry, endpoints, key is not None, key_source(entry))
        if problems:
            self.close()
            raise EndpointFileError(config.source, problems)

    # ------------------------------------------------------------------------------ construction
    @classmethod
    def from_file(cls, path: str | Path, **kwargs: object) -> ModelRegistry:
        config = load_endpoint_file(path)
        try:
            return cls(config, **kwargs)  # type: ignore[arg-type]
        except EndpointFileError as exc:
            raise EndpointFileError(str(path), exc.problems) from None

    @classmethod
    def from_mapping(cls, data: Mapping[str, object], **kwargs: object) -> ModelRegistry:
        return cls(parse_endpoints(dict(data)), **kwargs)  # type: ignore[arg-type]

    @classmethod
    def empty(cls) -> ModelRegistry:
        """A registry with no models (``arena serve`` without endpoints: the leaderboard still works and
        the chat tabs say that no model is configured). An endpoint *file* listing no models is an error."""
        return cls(EndpointConfig(entries={}, source="(no endpoints configured)"))

    def close(self) -> None:
        """Close the SDK clients' connection pools."""
        for m in self._models.values():
            for ep in m.endpoints:
                close = getattr(ep.provider, "close", None)
                if close is not None:
                    close()

    def __repr__(self) -> str:
        return f"ModelRegistry({list(self._models)!r})"

    # ---------------------------------------------------------------------------------- queries
    def models(self) -> list[ModelInfo]:
        """Every configured model, in file order."""
        return [m.info for m in self._models.values()]

    def battle_models(self) -> list[ModelInfo]:
        """Models that may be sampled for an anonymous battle now: battle-eligible, weight > 0, healthy."""
        return [
            m.info
            for m in self._models.values()
            if m.info.battle and m.info.weight > 0 and self._model_healthy(m)
        ]

    def chat_models(self) -> list[ModelInfo]:
        """Models a user may pick by name (named battles, direct chat), healthy or not."""
        return [m.info for m in self._models.values() if m.info.chat]

    def get(self, name: str) -> ModelInfo:
        return self._model(name).info

    def is_healthy(self, name: str) -> bool:
        return self._model_healthy(self._model(name))

    def health_report(self) -> list[ModelHealth]:
        return [
            ModelHealth(
                m.info.name,
                self._model_healthy(m),
                m.info.battle,
                m.info.chat,
                m.key_configured,
                m.key_source,
                self._pool.health(m.endpoints),
            )
            for m in self._models.values()
        ]

    def set_down(self, names: Iterable[str], reason: str | None) -> None:
        """Mark every endpoint of the models ``names`` down (``reason``, shown in the health report) or up
        again (None). A model that is down is not sampled for battles (see :meth:`battle_models`)."""
        self._pool.set_down([ep for name in names for ep in self._model(name).endpoints], reason)

    def identity_words(self) -> list[str]:
        """Lower-case words whose mention in an answer reveals a model's identity: display names,
        upstream model names, organizations and distinctive name fragments (e.g. "llama", "claude")."""
        return identity_words_for(self.models())

    def check(
        self,
        name: str,
        *,
        timeout_s: float = 30.0,
        prompt: str = "Reply with the word OK.",
        max_new_tokens: int = 16,
    ) -> list[EndpointCheck]:
        """Send a tiny request to every endpoint of ``name`` (no retries); results count toward health."""
        endpoints = self._model(name).endpoints
        return check_endpoints(
            name, endpoints, self._pool, timeout_s=timeout_s, prompt=prompt, max_new_tokens=max_new_tokens
        )

    def _model(self, name: str) -> _Model:
        try:
            return self._models[name]
        except KeyError:
            raise UnknownModelError(name, list(self._models)) from None

    def _model_healthy(self, m: _Model) -> bool:
        if not m.key_configured and needs_key(m.entry):
            return False  # every request would fail (kept with missing_keys="keep", or no vendor key set)
        return self._pool.any_healthy(m.endpoints)

    # -------------------------------------------------------------------------------- streaming
    def stream(
        self,
        name: str,
        messages: list[ChatMessage],
        params: GenerationParams | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[StreamEvent]:
        """Stream one answer: TextDelta items, then one Completion. Raises ProviderError subclasses
        (Cancelled when ``cancel`` is set). Closing the generator closes the upstream request.

        The answer is read by one thread of its own (:meth:`answer`); the caller's thread waits for it
        and enforces the deadlines (:func:`~arena_app.providers.answer_threads.stream_answer`)."""
        self._model(name)  # unknown names fail here, not at the first next()
        return stream_answer(partial(self.answer, name, messages, params), cancel, name=f"answer-{name}")

    def answer(
        self,
        name: str,
        messages: list[ChatMessage],
        params: GenerationParams | None,
        control: AnswerControl,
        on_text: Callable[[TextDelta], None],
    ) -> Completion:
        """Stream one answer in the calling thread (the answer's own thread): text goes to ``on_text``,
        the Completion is returned, failures raise ProviderError subclasses. Whoever waits for the
        answer enforces its deadlines and cancels it through ``control``
        (:class:`~arena_app.providers.answer_threads.AnswerFeed`)."""
        model = self._model(name)
        params = params or model.info.params
        check_params(params)  # before any endpoint is tried: a bad value is no endpoint's failure
        tried: list[Endpoint] = []
        attempts = model.entry.retries + 1
        for attempt in range(attempts):
            ep = self._pool.acquire(model.endpoints, tried, control.stopped, model.entry.queue_timeout_s)
            try:
                completion = read_attempt(ep.provider.call(messages, params), control, on_text)
                self._pool.record(ep, None)
                return completion
            except ProviderError as err:
                self._pool.record(ep, err)
                if (
                    control.text_delivered
                    or not err.retryable
                    or attempt == attempts - 1
                    or control.stopped.is_set()
                ):
                    raise
                others = [e for e in model.endpoints if e is not ep and e not in tried]
                if isinstance(err, RateLimited) and not others:
                    raise  # hammering the same rate-limited endpoint does not help
                tried.append(ep)
                log.info("%s: retrying after: %s", model.info.name, err.message)
                if control.stopped.wait(self.retry_backoff_s if not others else 0):
                    raise control.failure or Cancelled() from err
            finally:
                self._pool.release(ep)
        raise AssertionError("unreachable: the last attempt returns or raises")
