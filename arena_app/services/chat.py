"""Direct chat: one chosen model, adjustable parameters, streaming, stop, regenerate, clear, feedback.

Every user message and answer is stored as it completes (partial answers too, marked ``stopped`` or
``error``). Feedback (upvote / downvote / flag) applies to the latest stored answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from arena_app.domain import ConversationMode, FeedbackKind
from arena_app.providers.base import GenerationParams
from arena_app.services.answers import history_messages, params_record
from arena_app.services.client_id import ClientIdentity
from arena_app.services.conversation import ConversationService, RunState
from arena_app.services.errors import InputRejected, NothingToDo, storage_errors
from arena_app.services.live_answers import SideJob, SideOutcome
from arena_app.storage import api
from arena_app.storage.db import session_scope

LABEL = "The model"  # how error messages name the one model of a chat

#: the confirmation shown for each kind of feedback
THANKS = {
    FeedbackKind.UPVOTE: "Thanks, upvote recorded.",
    FeedbackKind.DOWNVOTE: "Thanks, downvote recorded.",
    FeedbackKind.FLAG: "Thanks, the answer was flagged for review.",
}


@dataclass
class ChatState(RunState):
    model: str | None = None
    conversation_id: int | None = None
    params: GenerationParams | None = None
    turns: list[tuple[str, str | None]] = field(default_factory=list)
    last: SideOutcome | None = None
    live: str = ""
    feedback: list[FeedbackKind] = field(default_factory=list)  # kinds given to the current last answer

    def begin_answers(self) -> None:
        self.live, self.last, self.feedback = "", None, []

    def show_live(self, texts: Sequence[str]) -> None:
        self.live = texts[0]

    def settle(self, index: int, outcome: SideOutcome) -> None:
        self.last = outcome
        self.turns[-1] = (self.turns[-1][0], outcome.text)

    def transcript(self) -> list[tuple[str, str | None]]:
        pairs = list(self.turns)
        if pairs and pairs[-1][1] is None and self.generating:
            pairs[-1] = (pairs[-1][0], self.live)
        return pairs


_OPPOSITE = {FeedbackKind.UPVOTE: FeedbackKind.DOWNVOTE, FeedbackKind.DOWNVOTE: FeedbackKind.UPVOTE}


class ChatService(ConversationService[ChatState]):
    def new_state(self) -> ChatState:
        return ChatState()

    def send(
        self, state: ChatState, text: str, model: str, params: GenerationParams, client: ClientIdentity
    ) -> Iterator[ChatState]:
        if state.generating:
            raise InputRejected("Wait for the answer (or press Stop) before sending another message.")
        if state.turns and model != state.model:
            raise InputRejected("You switched models: press Clear to start a new conversation.")
        if state.last is not None and not state.last.ok:
            raise InputRejected("The last answer failed: press Regenerate or Clear.")
        cleaned = self._check_message(text, len(state.turns))
        info = self._picker.chat_model(model)
        conversation_id = state.conversation_id
        with storage_errors(), session_scope(self._sf) as s:
            if conversation_id is None:
                record = api.create_conversation(
                    s,
                    mode=ConversationMode.DIRECT,
                    model_name=info.name,
                    session_id=client.session_id,
                    client_hash=client.client_hash,
                    params=params_record(params),
                )
                conversation_id = record.id
            api.add_user_message(s, conversation_id, cleaned)
        # only after the commit: a rolled-back conversation's id must not stick to the state (SQLite
        # would hand it to the next conversation created, maybe another user's)
        state.conversation_id, state.model = conversation_id, info.name
        state.params = params
        job = SideJob(LABEL, info.name, history_messages(state.turns, cleaned), params)
        state.turns.append((cleaned, None))
        yield from self._run(state, [job], [conversation_id], replaces=[None])

    def regenerate(self, state: ChatState) -> Iterator[ChatState]:
        if not state.turns or state.conversation_id is None or state.model is None:
            raise NothingToDo("There is nothing to regenerate yet.")
        if state.generating:
            raise NothingToDo("Wait for the answer (or press Stop) first.")
        user = state.turns[-1][0]
        job = SideJob(
            LABEL, state.model, history_messages(state.turns[:-1], user), state.params or GenerationParams()
        )
        replaces = state.last.message_id if state.last else None
        state.turns[-1] = (user, None)
        yield from self._run(state, [job], [state.conversation_id], replaces=[replaces])

    def feedback(self, state: ChatState, kind: str, client: ClientIdentity) -> str:
        """Store feedback on the latest answer; returns a confirmation sentence. ``kind``: a FeedbackKind."""
        try:
            feedback = FeedbackKind(kind)
        except ValueError:
            raise InputRejected(f"Unknown feedback {kind!r}.") from None
        if state.generating:
            raise NothingToDo("Wait for the answer to finish first.")
        if state.last is None or state.last.message_id is None:
            raise NothingToDo("There is no answer to give feedback on yet.")
        if feedback in state.feedback:
            raise NothingToDo(f"You already sent “{feedback}” for this answer.")
        # an up- and a downvote exclude each other: the second click replaces the first (flags stay)
        opposite = _OPPOSITE.get(feedback)
        replaces = opposite if opposite in state.feedback else None
        with storage_errors(), session_scope(self._sf) as s:
            api.record_feedback(
                s,
                message_id=state.last.message_id,
                kind=feedback,
                session_id=client.session_id,
                client_hash=client.client_hash,
                replaces=replaces,
            )
        state.feedback.append(feedback)
        if replaces is not None:
            state.feedback.remove(replaces)
            return f"{THANKS[feedback].rstrip('.')}; it replaces your {replaces}."
        return THANKS[feedback]
