"""The model registry: which models exist, which may battle or chat, and streaming with endpoint choice,
concurrency limits, retries before the first token and health bookkeeping.

    reg = ModelRegistry.from_file("api_endpoints.json")
    for event in reg.stream("gpt-4o", messages, reg.get("gpt-4o").params, cancel=stop_event):
        ...  # TextDelta ... then one Completion; ProviderError subclasses on failure

Endpoint choice: among the model's api_base URLs, the healthy one with the fewest requests in flight
(ties rotate). Each endpoint admits at most ``max_concurrency`` requests; a request that finds no free slot
within ``queue_timeout_s`` fails with :class:`ModelBusy`. A failed attempt is retried (``retries`` times,
preferring another endpoint) only if no text was yielded yet and the error is retryable.

Health (per endpoint): ``failure_threshold`` consecutive failures put the endpoint in cool-down for
``cooldown_s``; a model with no endpoint out of cool-down leaves :meth:`battle_models` and comes back by
itself when the cool-down ends. After a cool-down one more failure starts a new one at once (half-open);
a success resets the count. Named chats may still use a cooling model (the user asked for it).
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from arena_app.providers.anthropic_provider import AnthropicProvider
from arena_app.providers.base import (
    ChatMessage,
    Completion,
    EndpointTarget,
    GenerationParams,
    Provider,
    StreamEvent,
    TextDelta,
    url_host,
)
from arena_app.providers.endpoints import (
    EndpointConfig,
    EndpointEntry,
    load_endpoint_file,
    parse_endpoints,
)
from arena_app.providers.errors import (
    Cancelled,
    EndpointFileError,
    ModelBusy,
    ProviderError,
    RateLimited,
    UnknownModelError,
)
from arena_app.providers.keys import key_source, resolve_key
from arena_app.providers.model_info import (
    EndpointCheck,
    EndpointHealth,
    ModelHealth,
    ModelInfo,
    identity_words_for,
)
from arena_app.providers.openai_provider import OpenAIProvider

__all__ = ["PROVIDERS", "EndpointCheck", "EndpointHealth", "ModelHealth", "ModelInfo", "ModelRegistry"]

log = logging.getLogger("arena_app.providers")

ProviderFactory = Callable[[EndpointTarget], Provider]

#: api_type -> provider class (one small module each).
PROVIDERS: dict[str, ProviderFactory] = {
    "openai": OpenAIProvider,
    "openai_no_stream": lambda target: OpenAIProvider(target, streaming=False),
    "anthropic_message": AnthropicProvider,
    "anthropic": AnthropicProvider,
}


class _Endpoint:
    def __init__(self, model: str, provider: Provider, host: str, max_concurrency: int) -> None:
        self.model = model
        self.provider = provider
        self.host = host
        self.max_concurrency = max_concurrency
        self.in_flight = 0
        self.consecutive_failures = 0
        self.cooldown_until = float("-inf")
        self.requests = 0
        self.failures = 0
        self.last_error: str | None = None


@dataclass
class _Model:
    info: ModelInfo
    entry: EndpointEntry
    endpoints: list[_Endpoint]
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
        providers: Mapping[str, ProviderFactory] | None = None,
    ) -> None:
        env = os.environ if env is None else env
        factories = PROVIDERS if providers is None else providers
        self._clock = clock
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self.retry_backoff_s = retry_backoff_s
        self._cond = threading.Condition()
        self._rotation = itertools.count()
        self._models: dict[str, _Model] = {}
        #: models left out because their key env var is unset (missing_keys="skip"): name -> reason
        self.skipped: dict[str, str] = {}
        for name, entry in config.entries.items():
            try:
                key = resolve_key(name, entry, env, require=missing_keys != "keep")
            except EndpointFileError as exc:
                if missing_keys == "error":
                    raise
                self.skipped[name] = exc.problems[0]
                log.warning("skipping model: %s", exc.problems[0])
                continue
            model_name = entry.model_name or name
            endpoints = []
            for base in entry.api_bases():
                target = EndpointTarget(name, model_name, base, key, entry.timeouts())
                provider = factories[entry.api_type](target)
                endpoints.append(_Endpoint(name, provider, url_host(base), entry.max_concurrency))
            info = ModelInfo(
                name=name, model_name=model_name, api_type=entry.api_type, organization=entry.organization,
                license=entry.license, link=entry.link, description=entry.description, weight=entry.weight,
                battle=entry.in_battles, chat=entry.in_chat, params=entry.generation_params(),
                endpoints=tuple(ep.host for ep in endpoints), text_arena=entry.text_arena,
                vision_arena=entry.vision_arena, custom_system_prompt=entry.custom_system_prompt,
            )
            self._models[name] = _Model(info, entry, endpoints, key is not None, key_source(entry))

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
        now = self._clock()
        with self._cond:
            return [m.info for m in self._models.values()
                    if m.info.battle and m.info.weight > 0 and self._model_healthy(m, now)]

    def chat_models(self) -> list[ModelInfo]:
        """Models a user may pick by name (named battles, direct chat), healthy or not."""
        return [m.info for m in self._models.values() if m.info.chat]

    def get(self, name: str) -> ModelInfo:
        return self._model(name).info

    def is_healthy(self, name: str) -> bool:
        model = self._model(name)
        with self._cond:
            return self._model_healthy(model, self._clock())

    def health_report(self) -> list[ModelHealth]:
        now = self._clock()
        report = []
        with self._cond:
            for m in self._models.values():
                eps = tuple(
                    EndpointHealth(
                        host=ep.host, healthy=ep.cooldown_until <= now, in_flight=ep.in_flight,
                        max_concurrency=ep.max_concurrency, consecutive_failures=ep.consecutive_failures,
                        cooldown_remaining_s=max(0.0, ep.cooldown_until - now), requests=ep.requests,
                        failures=ep.failures, last_error=ep.last_error,
                    )
                    for ep in m.endpoints
                )
                report.append(ModelHealth(m.info.name, self._model_healthy(m, now), m.info.battle,
                                          m.info.chat, m.key_configured, m.key_source, eps))
        return report

    def identity_words(self) -> list[str]:
        """Lower-case words whose mention in an answer reveals a model's identity: display names,
        upstream model names, organizations and distinctive name fragments (e.g. "llama", "claude")."""
        return identity_words_for(self.models())

    def check(self, name: str, *, timeout_s: float = 30.0, prompt: str = "Reply with the word OK.",
              max_new_tokens: int = 16) -> list[EndpointCheck]:
        """Send a tiny request to every endpoint of ``name`` (no retries); results count toward health."""
        model = self._model(name)
        messages = [ChatMessage("user", prompt)]
        params = GenerationParams(temperature=0.0, top_p=1.0, max_new_tokens=max_new_tokens)
        results = []
        for ep in model.endpoints:
            cancel = threading.Event()
            timer = threading.Timer(timeout_s, cancel.set)
            timer.start()
            started = time.monotonic()
            text, ttft = "", None
            with self._cond:
                ep.in_flight += 1
                ep.requests += 1
            try:
                for event in ep.provider.stream(messages, params, cancel):
                    if isinstance(event, TextDelta):
                        text += event.text
                    else:
                        ttft = event.ttft_s
                self._record(ep, None)
                results.append(EndpointCheck(name, ep.host, True, text.strip()[:60], ttft,
                                             time.monotonic() - started))
            except Cancelled:
                late = f"no complete answer within {timeout_s:g} s"
                results.append(EndpointCheck(name, ep.host, False, late, None, time.monotonic() - started))
            except ProviderError as err:
                self._record(ep, err)
                results.append(EndpointCheck(name, ep.host, False, err.message, None,
                                             time.monotonic() - started))
            finally:
                timer.cancel()
                self._release(ep)
        return results

    def _model(self, name: str) -> _Model:
        try:
            return self._models[name]
        except KeyError:
            raise UnknownModelError(name, list(self._models)) from None

    def _model_healthy(self, m: _Model, now: float) -> bool:
        if not m.key_configured and m.entry.api_key_env is not None:
            return False  # kept with missing_keys="keep": every request would fail
        return any(ep.cooldown_until <= now for ep in m.endpoints)

    # -------------------------------------------------------------------------------- streaming
    def stream(
        self,
        name: str,
        messages: list[ChatMessage],
        params: GenerationParams | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[StreamEvent]:
        """Stream one answer: TextDelta items, then one Completion. Raises ProviderError subclasses
        (Cancelled when ``cancel`` is set). Closing the generator closes the upstream request."""
        model = self._model(name)  # unknown names fail here, not at the first next()
        return self._stream(model, messages, params or model.info.params, cancel)

    def _stream(
        self, model: _Model, messages: list[ChatMessage], params: GenerationParams,
        cancel: threading.Event | None,
    ) -> Iterator[StreamEvent]:
        tried: list[_Endpoint] = []
        attempts = model.entry.retries + 1
        for attempt in range(attempts):
            ep = self._acquire(model, tried, cancel)
            started = False
            upstream: Iterator[StreamEvent] | None = None
            try:
                upstream = ep.provider.stream(messages, params, cancel)
                for event in upstream:
                    if isinstance(event, TextDelta):
                        started = True
                    elif isinstance(event, Completion):
                        self._record(ep, None)
                    yield event
                return
            except ProviderError as err:
                self._record(ep, err)
                if (started or not err.retryable or attempt == attempts - 1
                        or (cancel is not None and cancel.is_set())):
                    raise
                others = [e for e in model.endpoints if e is not ep and e not in tried]
                if isinstance(err, RateLimited) and not others:
                    raise  # hammering the same rate-limited endpoint does not help
                tried.append(ep)
                log.info("%s: retrying after: %s", model.info.name, err.message)
                if cancel is not None and cancel.wait(self.retry_backoff_s if not others else 0):
                    raise Cancelled() from err
                if cancel is None and not others:
                    time.sleep(self.retry_backoff_s)
            finally:
                if upstream is not None and hasattr(upstream, "close"):
                    upstream.close()
                self._release(ep)

    def _acquire(self, model: _Model, tried: list[_Endpoint], cancel: threading.Event | None) -> _Endpoint:
        deadline = time.monotonic() + model.entry.queue_timeout_s
        with self._cond:
            while True:
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                ep = self._choose(model, tried)
                if ep is not None:
                    ep.in_flight += 1
                    ep.requests += 1
                    return ep
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ModelBusy(
                        f"The model is busy ({model.entry.max_concurrency} requests per endpoint already "
                        f"running) and no slot freed up within {model.entry.queue_timeout_s:g} s; "
                        "try again shortly."
                    )
                self._cond.wait(timeout=min(remaining, 0.1))

    def _choose(self, model: _Model, tried: list[_Endpoint]) -> _Endpoint | None:
        """The least-outstanding endpoint with a free slot, or None (wait). Only healthy endpoints are
        used while the model has any (even if they are full); cooling ones only when all are cooling.
        A retry prefers an endpoint not tried yet."""
        now = self._clock()
        candidates = [ep for ep in model.endpoints if ep.cooldown_until <= now] or model.endpoints
        untried = [ep for ep in candidates if ep not in tried]
        for pool in (untried, candidates):
            free = [ep for ep in pool if ep.in_flight < ep.max_concurrency]
            if free:
                least = min(ep.in_flight for ep in free)
                best = [ep for ep in free if ep.in_flight == least]
                return best[next(self._rotation) % len(best)]
        return None

    def _release(self, ep: _Endpoint) -> None:
        with self._cond:
            ep.in_flight -= 1
            self._cond.notify_all()

    def _record(self, ep: _Endpoint, err: ProviderError | None) -> None:
        with self._cond:
            if err is None:  # a success proves the endpoint works, cool-down or not
                ep.consecutive_failures = 0
                ep.cooldown_until = float("-inf")
                return
            if not err.counts_as_failure:
                return
            ep.failures += 1
            ep.consecutive_failures += 1
            ep.last_error = err.message
            if ep.consecutive_failures >= self.failure_threshold:
                ep.cooldown_until = self._clock() + self.cooldown_s
                log.warning("%s @ %s: cooling down for %g s after %d consecutive failures (last: %s)",
                            ep.model, ep.host, self.cooldown_s, ep.consecutive_failures, err.message)
