"""Rebuild a :class:`BattleState` from the database: the battle, its two conversations and its vote.

The rows are the truth; the in-memory state of a replica is a cache of them. Any replica can therefore
continue a battle another one started (after a reload, or after that replica died). An answer that never
reached the database (its process died while it streamed) comes back as a stopped, empty answer: the user
sees their message, and can regenerate, keep chatting or vote on what is there, as after Stop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from arena_app.domain import BattleMode, ExcludedReason, FinishReason, Outcome
from arena_app.providers.base import GenerationParams
from arena_app.services.battle_state import BattleState, Side
from arena_app.services.errors import InputRejected, NotFound, storage_errors
from arena_app.services.generations import RunningGenerations
from arena_app.services.live_answers import SideOutcome
from arena_app.services.resume_token import ResumeClaim
from arena_app.services.sampling import ModelPicker
from arena_app.storage import api
from arena_app.storage.db import session_scope
from arena_app.storage.records import MessageRecord

GONE = "Your previous battle could not be restored: it no longer exists. Start a new round."
#: how long a resume waits for the answers of a stream it stopped (the reloaded page's) to be stored
RESUME_WAIT_S = 5.0


class LiveBattles:
    """Battle id -> run token of that battle's stream in this process, while it streams."""

    def __init__(self) -> None:
        self._tokens: dict[int, str] = {}
        self._lock = threading.Lock()

    def track(self, battle_id: int, states: Iterator[BattleState]) -> Iterator[BattleState]:
        """Pass ``states`` through, registering the stream's run token for as long as it runs."""
        try:
            for state in states:
                if state.run_token is not None:
                    with self._lock:
                        self._tokens[battle_id] = state.run_token
                yield state
        finally:
            with self._lock:
                self._tokens.pop(battle_id, None)

    def running(self, battle_id: int) -> str | None:
        with self._lock:
            return self._tokens.get(battle_id)


def resume_battle(
    session_factory: sessionmaker[Session],
    picker: ModelPicker,
    claim: ResumeClaim,
    token: str,
    live: LiveBattles,
    generations: RunningGenerations,
) -> BattleState:
    """The battle of a checked ``claim``, rebuilt from the database: before the vote with the names hidden
    as always, after it with the vote (so the reveal shows). If this process is still streaming it (the
    page was reloaded mid-answer), that stream is stopped and its partial answers, which it stores as it
    stops, are waited for (at most :data:`RESUME_WAIT_S`)."""
    waiting = generations.cancel(live.running(claim.battle_id))
    deadline = time.monotonic() + (RESUME_WAIT_S if waiting else 0.0)
    while True:
        try:
            with storage_errors(), session_scope(session_factory) as s:
                state, unanswered = load_battle(s, claim.battle_id, picker)
        except NotFound as exc:
            raise InputRejected(GONE) from exc
        if not unanswered or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    if state.mode != claim.mode:
        raise InputRejected(GONE)
    state.resume_token = token
    return state


def load_battle(s: Session, battle_id: int, picker: ModelPicker) -> tuple[BattleState, bool]:
    """The state of battle ``battle_id`` as stored, and whether its last turn lacks an answer (one was
    still streaming, or its process died). Raises the storage's ``NotFoundError`` for an unknown id."""
    battle = api.get_battle(s, battle_id)
    vote = api.get_vote_for_battle(s, battle_id)
    names = (battle.model_a, battle.model_b)
    conversation_ids = (battle.conversation_a_id, battle.conversation_b_id)
    per_side = [_turns(api.list_messages(s, cid)) for cid in conversation_ids]
    state = BattleState(mode=BattleMode(battle.mode), battle_id=battle.id)
    unanswered = False
    for i, (name, cid) in enumerate(zip(names, conversation_ids, strict=True)):
        answers = [answer for _, answer in per_side[i]]
        stored = api.get_conversation(s, cid).params
        last_params = next((a.params for a in reversed(answers) if a and a.params), stored)
        side = Side(name, cid, _params(picker, name, last_params))
        if answers:
            last = answers[-1]
            unanswered = unanswered or last is None
            side.last = _outcome(last) if last is not None else _interrupted()
        state.sides.append(side)
    # both sides store each user message in one transaction: their turns line up
    state.turns = [(user, [_text(a), _text(b)]) for (user, a), (_, b) in zip(*per_side, strict=False)]
    if vote is not None:
        state.outcome = Outcome(vote.outcome)
        state.excluded_reason = ExcludedReason(vote.excluded_reason) if vote.excluded_reason else None
    return state, unanswered


def _turns(messages: Sequence[MessageRecord]) -> list[tuple[str, MessageRecord | None]]:
    """(user text, its current answer or None) per turn, in order (superseded answers are not listed)."""
    turns: list[tuple[str, MessageRecord | None]] = []
    for message in messages:
        if message.role == "user":
            turns.append((message.content, None))
        elif message.role == "assistant" and turns:
            turns[-1] = (turns[-1][0], message)
    return turns


def _text(message: MessageRecord | None) -> str:
    return message.content if message is not None else ""


def _outcome(message: MessageRecord) -> SideOutcome:
    finished = message.finished_at or message.created_at
    return SideOutcome(
        text=message.content,
        finish_reason=message.finish_reason or FinishReason.STOPPED,
        error=message.error,
        created_at=message.created_at,
        finished_at=finished,
        ttft_s=message.ttft_s,
        duration_s=max(0.0, (finished - message.created_at).total_seconds()),
        output_tokens=message.output_tokens,
        message_id=message.id,
    )


def _interrupted() -> SideOutcome:
    """An answer that was never stored: shown as stopped before its first word (nothing to replace)."""
    now = datetime.now(UTC)
    return SideOutcome("", FinishReason.STOPPED, None, now, now, None, 0.0, None)


def _params(picker: ModelPicker, name: str, stored: dict[str, object] | None) -> GenerationParams:
    """The model's configured parameters (stop words, extra body) with the stored user-facing ones on
    top; a model that is no longer configured keeps only the stored ones (continuing it then fails with
    the registry's own clear message)."""
    model = picker.find_model(name)
    base = model.params if model is not None else GenerationParams()
    if not stored:
        return base
    return replace(
        base,
        temperature=_number(stored, "temperature", base.temperature),
        top_p=_number(stored, "top_p", base.top_p),
        max_new_tokens=int(_number(stored, "max_new_tokens", base.max_new_tokens)),
    )


def _number(stored: dict[str, object], key: str, default: float) -> float:
    value = stored.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return default
