"""The conversation-running core shared by battles and direct chat.

:class:`ConversationService` holds what both services need (the registry, the database, model picking,
the limits and the generations in progress) and runs one turn's answers: it registers the run so that
Stop can cancel it, streams every answer at once, stores each answer the moment it ends (finished,
stopped or failed; a closed browser tab never loses a partial answer) and keeps the per-user state
up to date. Each service adds only what differs: sampling, votes and the reveal for battles
(:mod:`arena_app.services.battle`), feedback for direct chat (:mod:`arena_app.services.chat`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from arena_app.providers.base import GenerationParams
from arena_app.services.answers import check_input, params_record, style_of
from arena_app.services.generations import RunningGenerations
from arena_app.services.live_answers import AnswerSource, SideJob, SideOutcome, stream_sides
from arena_app.services.sampling import ModelPicker
from arena_app.storage import api
from arena_app.storage.db import session_scope
from arena_app.storage.records import StyleCounts

log = logging.getLogger(__name__)


@dataclass
class RunState:
    """What every per-user state has: the token of the generation in progress (None when idle).

    Subclasses say how a run changes them: :meth:`begin_answers`, :meth:`show_live`, :meth:`settle`.
    """

    run_token: str | None = None  # set while a generation runs (Stop looks the cancel event up by it)

    @property
    def generating(self) -> bool:
        return self.run_token is not None

    def begin_answers(self) -> None:
        """A run starts: forget the previous answers' live text and outcomes."""
        raise NotImplementedError

    def show_live(self, texts: Sequence[str]) -> None:
        """The text streamed so far, one entry per answer."""
        raise NotImplementedError

    def settle(self, index: int, outcome: SideOutcome) -> None:
        """Answer ``index`` ended (and was stored): record its outcome."""
        raise NotImplementedError


S = TypeVar("S", bound=RunState)


class ConversationService(Generic[S]):
    def __init__(
        self,
        *,
        registry: AnswerSource,
        session_factory: sessionmaker[Session],
        picker: ModelPicker,
        max_turns: int,
        max_input_chars: int,
    ) -> None:
        self._registry = registry
        self._sf = session_factory
        self._picker = picker
        self.max_turns = max_turns
        self.max_input_chars = max_input_chars
        self._running = RunningGenerations()

    def stop(self, state: S) -> bool:
        """Cancel the running generation of this state; True if one was running."""
        return self._running.cancel(state.run_token)

    def _check_message(self, text: str, turns_done: int) -> str:
        """A new user message, stripped, or :class:`InputRejected` (empty, too long, too many turns)."""
        return check_input(text, self.max_input_chars, turns_done, self.max_turns)

    def _settle(self, state: S, index: int, outcome: SideOutcome) -> None:
        """Record an ended answer on the state (a service may adjust the outcome first)."""
        state.settle(index, outcome)

    def _run(
        self,
        state: S,
        jobs: Sequence[SideJob],
        conversation_ids: Sequence[int],
        replaces: Sequence[int | None],
    ) -> Iterator[S]:
        """Stream ``jobs`` (answer ``i`` goes to ``conversation_ids[i]``, replacing the stored answer
        ``replaces[i]`` on regenerate); yields the state first and after every batch of updates."""
        with self._running.start() as (token, cancel):
            state.run_token = token
            state.begin_answers()
            persist = answer_persister(self._sf, conversation_ids, replaces, [j.params for j in jobs])
            settled: set[int] = set()
            try:
                yield state
                for snap in stream_sides(self._registry, jobs, cancel, persist):
                    state.show_live(snap.texts)
                    for i, outcome in enumerate(snap.outcomes):
                        if outcome is not None and i not in settled:
                            settled.add(i)
                            self._settle(state, i, outcome)
                    if snap.done:
                        state.run_token = None
                    yield state
            finally:
                state.run_token = None


def answer_persister(
    session_factory: sessionmaker[Session],
    conversation_ids: Sequence[int],
    replaces: Sequence[int | None],
    params: Sequence[GenerationParams],
) -> Callable[[int, SideOutcome], int | None]:
    """A ``persist(index, outcome) -> message id`` callback for :func:`live_answers.stream_sides`; each
    answer is stored with the parameters it was generated with (``params[index]``)."""

    def persist(index: int, outcome: SideOutcome) -> int | None:
        try:
            style: StyleCounts | None = style_of(outcome.text, outcome.output_tokens)
        except Exception:  # style counts are an extra; never lose the answer over them
            log.exception("could not compute style counts; storing the answer without them")
            style = None
        with session_scope(session_factory) as s:
            record = api.add_assistant_message(
                s,
                conversation_ids[index],
                outcome.text,
                created_at=outcome.created_at,
                finished_at=outcome.finished_at,
                ttft_s=outcome.ttft_s,
                output_tokens=outcome.output_tokens,
                finish_reason=outcome.finish_reason,
                error=outcome.error,
                style=style,
                replaces_message_id=replaces[index],
                params=params_record(params[index]),
            )
        return record.id

    return persist
