"""Run one or more model streams concurrently, each in its own thread feeding one queue.

A slow side never stalls another: every thread pushes its deltas as they arrive and the consumer yields
whatever is available. Each side's answer is persisted by its own thread the moment it ends (finished,
failed or stopped), so a closed browser tab never loses a partial answer.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from arena_app.domain import FinishReason
from arena_app.providers.base import ChatMessage, Completion, GenerationParams, StreamEvent, TextDelta
from arena_app.providers.errors import Cancelled, ProviderError

log = logging.getLogger(__name__)


class StreamingRegistry(Protocol):
    def stream(
        self,
        name: str,
        messages: list[ChatMessage],
        params: GenerationParams,
        cancel: threading.Event | None = None,
    ) -> Iterator[StreamEvent]: ...


@dataclass(frozen=True)
class SideJob:
    label: str  # "Model A" — used in error messages shown to the user
    model: str
    messages: list[ChatMessage]
    params: GenerationParams


@dataclass
class SideOutcome:
    """How one side's answer ended. ``finish_reason``: a :class:`FinishReason` or a provider's value."""

    text: str
    finish_reason: str
    error: str | None
    created_at: datetime
    finished_at: datetime
    ttft_s: float | None
    duration_s: float
    output_tokens: int | None
    message_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.finish_reason != FinishReason.ERROR


@dataclass
class StreamSnapshot:
    texts: list[str]
    outcomes: list[SideOutcome | None] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return all(o is not None for o in self.outcomes)


PersistFn = Callable[[int, SideOutcome], int | None]

#: At most one update per this many seconds while text streams (each update re-renders both chats);
#: a finished side is reported at once.
MIN_UPDATE_INTERVAL_S = 0.04


def _run_side(
    index: int,
    job: SideJob,
    registry: StreamingRegistry,
    cancel: threading.Event,
    out: queue.Queue[tuple[int, str | SideOutcome]],
    persist: PersistFn,
) -> None:
    created = datetime.now(UTC)
    start = time.monotonic()
    first: float | None = None
    parts: list[str] = []
    completion: Completion | None = None
    finish: str = FinishReason.STOP
    error: str | None = None
    try:
        for event in registry.stream(job.model, job.messages, job.params, cancel=cancel):
            if isinstance(event, TextDelta):
                if event.text:
                    if first is None:
                        first = time.monotonic() - start
                    parts.append(event.text)
                    out.put((index, event.text))
            elif isinstance(event, Completion):
                completion = event
            if cancel.is_set() and completion is None:
                raise Cancelled()
        if completion is None:
            raise ProviderError("The model's stream ended without a finish signal.")
        finish = completion.finish_reason or FinishReason.STOP
    except Cancelled:
        finish = FinishReason.STOPPED
    except ProviderError as exc:
        finish, error = FinishReason.ERROR, exc.for_side(job.label)
    except Exception:  # a bug or unexpected library error: the user still gets a clear, safe message
        log.exception("unexpected error while streaming %s", job.label)
        finish, error = FinishReason.ERROR, f"{job.label} failed with an unexpected server error."
    duration = time.monotonic() - start
    outcome = SideOutcome(
        text="".join(parts),
        finish_reason=finish,
        error=error,
        created_at=created,
        finished_at=datetime.now(UTC),
        ttft_s=completion.ttft_s if completion and completion.ttft_s is not None else first,
        duration_s=completion.total_s if completion else duration,
        output_tokens=completion.output_tokens if completion else None,
    )
    try:
        outcome.message_id = persist(index, outcome)
    except Exception:
        log.exception("could not store the answer of %s", job.label)
        if outcome.error is None:
            outcome.finish_reason = FinishReason.ERROR
            outcome.error = f"{job.label}'s answer could not be stored; please regenerate."
    out.put((index, outcome))


def stream_sides(
    registry: StreamingRegistry,
    jobs: Sequence[SideJob],
    cancel: threading.Event,
    persist: PersistFn,
) -> Iterator[StreamSnapshot]:
    """Yield snapshots of all sides' text as deltas arrive; the last snapshot has every outcome set.

    Closing the generator early (client went away) sets ``cancel``; the threads still persist what they have.
    """
    out: queue.Queue[tuple[int, str | SideOutcome]] = queue.Queue()
    snap = StreamSnapshot(texts=["" for _ in jobs], outcomes=[None for _ in jobs])
    threads = [
        threading.Thread(
            target=_run_side, args=(i, job, registry, cancel, out, persist), daemon=True, name=f"side-{i}"
        )
        for i, job in enumerate(jobs)
    ]
    for t in threads:
        t.start()
    last_update = 0.0
    try:
        while not snap.done:
            items = [out.get()]
            wait = last_update + MIN_UPDATE_INTERVAL_S - time.monotonic()
            if wait > 0 and not isinstance(items[0][1], SideOutcome):
                time.sleep(wait)
            while True:  # coalesce whatever else is already waiting into one update
                try:
                    items.append(out.get_nowait())
                except queue.Empty:
                    break
            for index, item in items:
                if isinstance(item, SideOutcome):
                    snap.outcomes[index] = item
                    snap.texts[index] = item.text
                else:
                    snap.texts[index] += item
            last_update = time.monotonic()
            yield snap
    finally:
        if not snap.done:
            cancel.set()
