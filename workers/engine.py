"""Continuous batching on top of transformers' own ``ContinuousBatchingManager``.

transformers 5.23 ships a continuous batching engine (``model.init_continuous_batching()``): a background
thread that admits new requests at every step, runs prefill and decode of all active requests in one forward
pass over a paged KV cache, supports per-request temperature/top_p (``per_request_processors``), streaming
outputs and cancellation (which frees the request's cache blocks). It runs on CPU with the ``sdpa`` attention
of Llama-like models, so the worker uses it and adds only what it lacks for serving:

- an output router that hands each request's tokens to its own asyncio queue (one ``call_soon_threadsafe`` per
  step) and records batch-size statistics;
- incremental detokenisation, stop strings (the request is cancelled once one is found), finish reasons;
- greedy decoding per request: the manager samples for all requests or none, so ``temperature=0`` is served as
  sampling with top_p -> 0, which keeps exactly the most likely token (the same choice as argmax);
- a KV cache sized from ``max_batch_size`` and the context length instead of "90% of free memory", which on a
  CPU would mean 90% of the machine's RAM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from transformers import GenerationConfig
from transformers.generation.configuration_utils import ContinuousBatchingConfig
from transformers.generation.continuous_batching import RequestStatus
from transformers.generation.continuous_batching.continuous_api import OutputRouter

from workers.errors import EngineError
from workers.loading import LoadedModel
from workers.metrics import Metrics
from workers.textstream import IncrementalDetokenizer, StopMatcher

logger = logging.getLogger("workers")

# top_p this small keeps only the most likely token: 1 - top_p rounds to 1.0 in float32, and the
# processor always keeps the best token (min_tokens_to_keep=1). See the module docstring.
GREEDY_TOP_P = 1e-9


@dataclass(frozen=True)
class SamplingParams:
    max_new_tokens: int
    temperature: float = 1.0  # 0 means greedy
    top_p: float = 1.0
    stop: tuple[str, ...] = ()

    def processor_kwargs(self) -> dict[str, float]:
        if self.temperature <= 0:
            return {"temperature": 1.0, "top_p": GREEDY_TOP_P}
        return {"temperature": float(self.temperature), "top_p": float(self.top_p)}


@dataclass(frozen=True)
class Finished:
    """Last item of a generation stream."""

    finish_reason: str  # "stop" (EOS or stop string) or "length"
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class EngineConfig:
    max_batch_size: int = 16
    kv_cache_tokens: int | None = None  # default: max_batch_size * min(context_length, 1024)
    max_batch_tokens: int | None = None  # tokens per forward pass; default 512 on CPU, 2048 on GPU
    page_size: int = 128
    seed: int | None = None


class _Router(OutputRouter):
    """Routes each output to its request's asyncio queue; outputs of unknown (cancelled) ones are dropped."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__()
        self._metrics = metrics
        self._targets: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Queue[Any]]] = {}

    def add(self, request_id: str, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[Any]) -> None:
        with self._lock:
            self._targets[request_id] = (loop, queue)

    def remove(self, request_id: str) -> None:
        with self._lock:
            self._targets.pop(request_id, None)

    def deliver(self, output: Any) -> None:  # failures and single outputs: not a decode step
        self._route([output])

    def deliver_batch(self, outputs: list[Any]) -> None:  # called once per forward pass
        self._metrics.step(len(outputs))
        self._route(outputs)

    def _route(self, outputs: list[Any]) -> None:
        per_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Queue[Any], Any]]] = defaultdict(list)
        with self._lock:
            for output in outputs:
                target = self._targets.get(output.request_id)
                if target is not None:
                    per_loop[target[0]].append((target[1], output))
        for loop, items in per_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed event loop: its requests are gone
                loop.call_soon_threadsafe(_put_all, items)


def _put_all(items: list[tuple[asyncio.Queue[Any], Any]]) -> None:
    for queue, output in items:
        queue.put_nowait(output)


class BatchingEngine:
    """Owns the continuous batching manager of one loaded model."""

    def __init__(self, loaded: LoadedModel, config: EngineConfig, metrics: Metrics) -> None:
        self.loaded = loaded
        self.config = config
        self.metrics = metrics
        self._tokenizer = loaded.tokenizer
        self._eos_ids = _eos_ids(loaded)
        on_gpu = loaded.device != "cpu"
        requested_kv = config.kv_cache_tokens or config.max_batch_size * min(loaded.context_length, 1024)
        # One request must always fit in the cache, or the manager could never schedule it.
        kv_tokens = max(requested_kv, loaded.context_length)
        self.context_length = loaded.context_length
        self._kv_tokens = kv_tokens
        self._router = _Router(metrics)
        gen_config = GenerationConfig(
            do_sample=True,
            # Not 1.0: the manager creates the temperature / top_p processors only for non-default values;
            # every request passes its own values anyway.
            temperature=0.7,
            top_p=0.9,
            top_k=None,
            eos_token_id=sorted(self._eos_ids) or None,
            pad_token_id=self._tokenizer.pad_token_id,
            max_new_tokens=256,
        )
        cb_config = ContinuousBatchingConfig(
            page_size=config.page_size,
            num_blocks=math.ceil(kv_tokens / config.page_size),
            max_batch_tokens=config.max_batch_tokens or (2048 if on_gpu else 512),
            max_requests_per_batch=config.max_batch_size,
            per_request_processors=True,
            seed=config.seed,
        )
        self._manager = loaded.model.init_continuous_batching(
            generation_config=gen_config, continuous_batching_config=cb_config
        )
        self._manager.output_router = self._router
        self._lock = threading.Lock()
        self._started = False

    def start(self) -> None:
        with self._lock:
            if not self._started:
                self._manager.start()
                self._started = True
        logger.info(
            "engine started: max_batch_size=%d kv_cache_tokens=%d context_length=%d",
            self.config.max_batch_size,
            self._kv_tokens,
            self.context_length,
        )

    def stop(self) -> None:
        with self._lock:
            if self._started:
                self._manager.stop(block=True, timeout=10)
                self._started = False

    def is_running(self) -> bool:
        return bool(self._manager.is_running())

    async def generate(self, prompt_ids: list[int], params: SamplingParams) -> AsyncIterator[str | Finished]:
        """Yield text deltas as tokens are produced, then one :class:`Finished`.

        Closing the iterator early (client disconnect) cancels the request and frees its batch slot and cache.
        """
        request_id = uuid.uuid4().hex
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._router.add(request_id, asyncio.get_running_loop(), queue)
        done = False
        try:
            added = self._manager.add_request(
                prompt_ids,
                request_id=request_id,
                max_new_tokens=params.max_new_tokens,
                streaming=True,
                eos_token_id=sorted(self._eos_ids) or -1,
                **params.processor_kwargs(),
            )
            if added is None:
                raise EngineError("the generation engine is not accepting requests (stopped or crashed)")
            detok = IncrementalDetokenizer(self._tokenizer)
            stopper = StopMatcher(params.stop)
            seen = 0
            while True:
                output = await queue.get()
                # Outputs are cumulative: when the event loop lags behind the engine, skip to the newest one
                # (one SSE chunk for several tokens) instead of paying per-chunk overhead for each.
                while not queue.empty() and not output.is_finished():
                    output = queue.get_nowait()
                if output.status == RequestStatus.FAILED or output.error:
                    done = True
                    raise EngineError(f"generation failed: {output.error}")
                new_ids = output.generated_tokens[seen:]
                seen = len(output.generated_tokens)
                finished = output.is_finished()
                text = detok.push(new_ids) + (detok.flush() if finished else "")
                safe, stopped = stopper.push(text)
                if safe:
                    yield safe
                if stopped:
                    yield Finished("stop", len(prompt_ids), seen)
                    return  # finally cancels the request
                if finished:
                    done = True
                    rest = stopper.flush()
                    if rest:
                        yield rest
                    hit_eos = bool(output.generated_tokens) and output.generated_tokens[-1] in self._eos_ids
                    yield Finished("stop" if hit_eos else "length", len(prompt_ids), seen)
                    return
        finally:
            self._router.remove(request_id)
            if not done:
                self._manager.cancel_request(request_id)

    def active_requests(self) -> int:
        """Requests the manager still holds (running or waiting); 0 once cancelled ones are cleared."""
        processor = getattr(self._manager, "batch_processor", None)
        scheduler = getattr(processor, "scheduler", None)
        if scheduler is None:
            return 0
        return len(scheduler.active_requests) + len(scheduler.waiting_requests)


def _eos_ids(loaded: LoadedModel) -> set[int]:
    ids: set[int] = set()
    for source in (loaded.model.generation_config.eos_token_id, loaded.tokenizer.eos_token_id):
        if isinstance(source, int):
            ids.add(source)
        elif isinstance(source, list | tuple):
            ids.update(int(i) for i in source)
    return {i for i in ids if i >= 0}
