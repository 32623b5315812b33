"""Stream the answers of one turn at once (one per side), each read by one thread of its own, into
snapshots for the UI.

Each answer's thread asks the registry for the answer, pushes its text as it arrives and, the moment the
answer ends (finished, failed or stopped), stores it and pushes its outcome, so a closed browser tab never
loses a partial answer. The consumer's thread (the UI event) waits on the shared queue, enforcing every
answer's deadlines and the cancel event meanwhile (:class:`~arena_app.providers.answer_threads.AnswerFeed`),
and yields a snapshot per batch of updates: a slow side never stalls the other.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Protocol

from arena_app.domain import FinishReason
from arena_app.providers.answer_threads import AnswerFeed
from arena_app.providers.attempts import AnswerControl
from arena_app.providers.base import ChatMessage, Completion, GenerationParams, TextDelta
from arena_app.providers.errors import Cancelled, ProviderError
from arena_app.services.incidents import DATABASE
from arena_app.storage.errors import DatabaseUnavailableError

log = logging.getLogger(__name__)

#: At most one update per this many seconds while text streams (each update re-renders the chats, so
#: this is the knob for the UI's CPU cost per streamed answer); an answer that ended shows within the
#: interval, the end of the last one at once.
MIN_UPDATE_INTERVAL_S = 0.04
#: ... and, with many streams at once, the whole process sends at most about this many updates per second
#: (each stream's interval grows with the number of streams), but never waits longer than MAX below.
UPDATES_PER_S = 200.0
MAX_UPDATE_INTERVAL_S = 0.5


class UpdatePacer:
    """The interval between one stream's updates: ``MIN_UPDATE_INTERVAL_S`` while few streams run, then
    ``streams / UPDATES_PER_S`` (capped at ``MAX_UPDATE_INTERVAL_S``), so the UI's update work stays
    bounded however many users stream at once. The first text of an answer is never held back."""

    def __init__(
        self,
        updates_per_s: float = UPDATES_PER_S,
        min_interval_s: float = MIN_UPDATE_INTERVAL_S,
        max_interval_s: float = MAX_UPDATE_INTERVAL_S,
    ) -> None:
        self._rate, self._min, self._max = updates_per_s, min_interval_s, max_interval_s
        self._streams = 0
        self._lock = threading.Lock()

    @contextmanager
    def streaming(self) -> Iterator[None]:
        """Count one stream for the duration of the block."""
        with self._lock:
            self._streams += 1
        try:
            yield
        finally:
            with self._lock:
                self._streams -= 1

    @property
    def interval_s(self) -> float:
        return min(self._max, max(self._min, self._streams / self._rate))


#: the process's pacer, shared by every service that streams answers (a process-wide budget, no user data)
SHARED_PACER = UpdatePacer()


class AnswerSource(Protocol):
    """The registry's :meth:`~arena_app.providers.registry.ModelRegistry.answer`."""

    def answer(
        self,
        name: str,
        messages: list[ChatMessage],
        params: GenerationParams | None,
        control: AnswerControl,
        on_text: Callable[[TextDelta], None],
    ) -> Completion: ...


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
_Item = str | SideOutcome  # what an answer's thread pushes: a piece of text, then its outcome


def _answer_side(
    index: int,
    job: SideJob,
    registry: AnswerSource,
    persist: PersistFn,
    control: AnswerControl,
    put: Callable[[_Item], None],
) -> None:
    """One side's answer, in its own thread: stream it, store it, push its outcome."""
    created = datetime.now(UTC)
    start = time.monotonic()
    first: float | None = None
    parts: list[str] = []

    def on_text(delta: TextDelta) -> None:
        nonlocal first
        if first is None:
            first = time.monotonic() - start
        parts.append(delta.text)
        put(delta.text)

    completion: Completion | None = None
    finish: str = FinishReason.STOP
    error: str | None = None
    try:
        completion = registry.answer(job.model, job.messages, job.params, control, on_text)
        finish = completion.finish_reason or FinishReason.STOP
    except Cancelled:
        finish = FinishReason.STOPPED
    except ProviderError as exc:
        finish, error = FinishReason.ERROR, exc.for_side(job.label)
    except Exception:  # a bug or unexpected library error: the user still gets a clear, safe message
        log.exception("unexpected error while streaming %s", job.label)
        finish, error = FinishReason.ERROR, _unexpected(job)
    outcome = SideOutcome(
        text="".join(parts),
        finish_reason=finish,
        error=error,
        created_at=created,
        finished_at=datetime.now(UTC),
        ttft_s=completion.ttft_s if completion and completion.ttft_s is not None else first,
        duration_s=completion.total_s if completion else time.monotonic() - start,
        output_tokens=completion.output_tokens if completion else None,
    )
    try:
        outcome.message_id = persist(index, outcome)
    except DatabaseUnavailableError as exc:
        DATABASE.report(exc)  # one log line per outage, not one per answer
        _unstored(outcome, job)
    except Exception:
        log.exception("could not store the answer of %s", job.label)
        _unstored(outcome, job)
    put(outcome)


def _unstored(outcome: SideOutcome, job: SideJob) -> None:
    if outcome.error is None:
        outcome.finish_reason = FinishReason.ERROR
        outcome.error = f"{job.label}'s answer could not be stored; please regenerate."


def _unexpected(job: SideJob) -> str:
    return f"{job.label} failed with an unexpected server error."


def stream_sides(
    registry: AnswerSource,
    jobs: Sequence[SideJob],
    cancel: threading.Event,
    persist: PersistFn,
    pacer: UpdatePacer = SHARED_PACER,
) -> Iterator[StreamSnapshot]:
    """Yield snapshots of all sides' text as it arrives; the last snapshot has every outcome set.

    Text is coalesced to one snapshot per ``pacer.interval_s`` (an outcome is yielded at once). Closing the
    generator early (the client went away) cancels every answer; their threads still store what they have.
    """
    feed: AnswerFeed[_Item] = AnswerFeed(cancel)
    for i, job in enumerate(jobs):
        feed.start(i, partial(_answer_side, i, job, registry, persist), name=f"answer-{i}")
    snap = StreamSnapshot(texts=["" for _ in jobs], outcomes=[None for _ in jobs])
    last_update = -math.inf
    try:
        with pacer.streaming():
            while not snap.done:
                got = feed.get()
                assert got is not None  # no timeout given
                _apply(snap, got[0], got[1], jobs[got[0]])
                # coalesce what arrives until the update interval is over (an ended side included: it
                # shows within the interval); the end of the last one is shown at once
                due = last_update + pacer.interval_s
                while not snap.done:
                    more = feed.get(timeout=max(0.0, due - time.monotonic()))
                    if more is None:
                        break
                    _apply(snap, more[0], more[1], jobs[more[0]])
                last_update = time.monotonic()
                yield snap
    finally:
        if not snap.done:
            cancel.set()
            feed.abort()
        feed.close()


def _apply(snap: StreamSnapshot, index: int, item: _Item | BaseException, job: SideJob) -> None:
    if isinstance(item, SideOutcome):
        snap.outcomes[index] = item
        snap.texts[index] = item.text
    elif isinstance(item, BaseException):  # _answer_side itself failed (a bug): the side ends in error
        log.error("the answer thread of %s failed", job.label, exc_info=item)
        now = datetime.now(UTC)
        text = snap.texts[index]
        snap.outcomes[index] = SideOutcome(
            text, FinishReason.ERROR, _unexpected(job), now, now, None, 0.0, None
        )
    else:
        snap.texts[index] += item
