"""Battles: two models answer the same conversation side by side; the user votes once.

Anonymous mode samples two different models by weight and hides their names until the vote; named mode
(side-by-side) lets the user pick both. Every user message and every answer is stored as it completes.
The per-user :class:`BattleState` lives in the UI's ``gr.State`` (server side); nothing here is global.
The database rows are the truth: :meth:`BattleService.resume` rebuilds a state from them for a browser
that shows a signed resume token (:mod:`arena_app.services.resume_token`), on any replica.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from sqlalchemy.orm import Session, sessionmaker

from arena_app.domain import VOTE_CHOICES, BattleMode, ExcludedReason
from arena_app.providers.base import GenerationParams
from arena_app.services.answers import history_messages, params_record, token_count
from arena_app.services.battle_resume import LiveBattles, resume_battle
from arena_app.services.battle_state import LABELS, BattleState, Side, SideStats
from arena_app.services.client_id import ClientIdentity
from arena_app.services.conversation import ConversationService
from arena_app.services.errors import InputRejected, NothingToDo, VoteRejected, storage_errors
from arena_app.services.identity import IdentityDetector
from arena_app.services.live_answers import AnswerSource, SideJob, SideOutcome
from arena_app.services.rate_limit_rules import OFF
from arena_app.services.rate_limits import RateLimiter
from arena_app.services.resume_token import ResumeTokens
from arena_app.services.sampling import ModelPicker
from arena_app.storage import api
from arena_app.storage.db import session_scope

log = logging.getLogger(__name__)

#: a second vote on a battle (a replayed request with stale state; the database refused it)
ALREADY_VOTED = "This battle already has a vote; a battle takes exactly one."


class BattleService(ConversationService[BattleState]):
    def __init__(
        self,
        *,
        registry: AnswerSource,
        session_factory: sessionmaker[Session],
        picker: ModelPicker,
        detector: IdentityDetector,
        max_turns: int,
        max_input_chars: int,
        tokens: ResumeTokens,
        battle_limit: RateLimiter | None = None,
        vote_limit: RateLimiter | None = None,
    ) -> None:
        """``battle_limit`` / ``vote_limit``: per-client rate limits (checked in the storing transaction)."""
        super().__init__(
            registry=registry,
            session_factory=session_factory,
            picker=picker,
            max_turns=max_turns,
            max_input_chars=max_input_chars,
        )
        self._detector = detector
        self._tokens = tokens
        self._live = LiveBattles()
        self._battle_limit = battle_limit or RateLimiter("battle", OFF)
        self._vote_limit = vote_limit or RateLimiter("vote", OFF)

    # ------------------------------------------------------------------ rounds

    def new_state(self, mode: BattleMode = BattleMode.ANONY) -> BattleState:
        return BattleState(mode=BattleMode(mode))

    def _pick(
        self, state: BattleState, models: Sequence[str] | None, params: Sequence[GenerationParams] | None
    ) -> tuple[list[str], list[GenerationParams], float]:
        """The two models of a new battle, their parameters and the battle's sampling weight (anonymous:
        sampled, with the inverse propensity of the draw; named: validated, weight 1)."""
        if state.mode == BattleMode.ANONY:
            drawn = self._picker.pick_battle()
            picked = (drawn.a, drawn.b)
            return [m.name for m in picked], [self._picker.params_for(m) for m in picked], drawn.weight
        if not models or len(models) != 2 or not all(models):
            raise InputRejected("Choose both models first.")
        if models[0] == models[1]:
            raise InputRejected("Choose two different models: a model compared with itself tells nothing.")
        chosen = [self._picker.chat_model(m) for m in models]
        side_params = list(params) if params else [self._picker.params_for(m) for m in chosen]
        return [m.name for m in chosen], side_params, 1.0

    def send(
        self,
        state: BattleState,
        text: str,
        client: ClientIdentity,
        *,
        models: Sequence[str] | None = None,
        params: Sequence[GenerationParams] | None = None,
    ) -> Iterator[BattleState]:
        """Add a user turn and stream both answers; yields the state after every batch of deltas."""
        if state.voted:
            raise InputRejected("This battle is over. Press “New round” to start another.")
        if state.generating:
            raise InputRejected("Wait for both answers (or press Stop) before sending another message.")
        if state.side_failed():
            raise InputRejected("The last answer failed: press Regenerate or start a new round.")
        cleaned = self._check_message(text, len(state.turns))
        picked = self._pick(state, models, params) if state.battle_id is None else None
        if picked is None and state.mode == BattleMode.NAMED:
            self._keep_models(state, models, params)
        battle_id, sides = self._store_user_turn(state, picked, cleaned, client)
        state.battle_id, state.sides = battle_id, sides  # only once committed
        if state.resume_token is None:
            state.resume_token = self._tokens.issue(state.mode, battle_id)
        jobs = [
            SideJob(LABELS[i], side.model, history_messages(self._pairs(state, i), cleaned), side.params)
            for i, side in enumerate(state.sides)
        ]
        state.turns.append((cleaned, [None, None]))
        yield from self._run_battle(state, jobs, replaces=[None, None])

    def _keep_models(
        self, state: BattleState, models: Sequence[str] | None, params: Sequence[GenerationParams] | None
    ) -> None:
        """Named mode, later turns: the models are fixed for the battle (a vote covers the whole
        conversation); the parameters apply from this turn on and are stored with each answer."""
        if models is not None and list(models) != [side.model for side in state.sides]:
            raise InputRejected("The models are fixed for this battle. Press “New round” to compare others.")
        if params:
            for side, p in zip(state.sides, params, strict=True):
                side.params = p

    def _store_user_turn(
        self,
        state: BattleState,
        picked: tuple[list[str], list[GenerationParams], float] | None,
        text: str,
        client: ClientIdentity,
    ) -> tuple[int, list[Side]]:
        """Store the user message on both sides (creating the battle first when ``picked``): one
        transaction, so a failure leaves no empty battle. Returns the battle id and its sides."""
        with storage_errors(), session_scope(self._sf) as s:
            if picked is not None:
                names, side_params, weight = picked
                self._battle_limit.lock(s, client.client_hash)
                record = api.create_battle(
                    s,
                    mode=state.mode,
                    model_a=names[0],
                    model_b=names[1],
                    session_id=client.session_id,
                    client_hash=client.client_hash,
                    params_a=params_record(side_params[0]),
                    params_b=params_record(side_params[1]),
                    sampling_weight=weight,
                )
                battle_id = record.id
                self._battle_limit.check(s, client.client_hash, battle_id)
                sides = [
                    Side(names[0], record.conversation_a_id, side_params[0]),
                    Side(names[1], record.conversation_b_id, side_params[1]),
                ]
            else:
                assert state.battle_id is not None
                battle_id, sides = state.battle_id, state.sides
            for side in sides:
                api.add_user_message(s, side.conversation_id, text)
            api.set_battle_turns(s, battle_id, len(state.turns) + 1)
        return battle_id, sides

    def regenerate(self, state: BattleState) -> Iterator[BattleState]:
        """Re-ask both models for the last turn (recorded: old answers kept as superseded)."""
        if state.battle_id is None or not state.turns:
            raise NothingToDo("There is nothing to regenerate yet.")
        if state.voted:
            raise NothingToDo("This battle already has a vote; start a new round.")
        if state.generating:
            raise NothingToDo("Wait for both answers (or press Stop) first.")
        user, _ = state.turns[-1]
        jobs = [
            SideJob(LABELS[i], side.model, history_messages(self._pairs(state, i)[:-1], user), side.params)
            for i, side in enumerate(state.sides)
        ]
        replaces = [side.last.message_id if side.last else None for side in state.sides]
        with storage_errors(), session_scope(self._sf) as s:
            api.mark_battle_regenerated(s, state.battle_id)
        state.turns[-1] = (user, [None, None])
        yield from self._run_battle(state, jobs, replaces=replaces)

    def _run_battle(
        self, state: BattleState, jobs: list[SideJob], replaces: list[int | None]
    ) -> Iterator[BattleState]:
        """:meth:`_run`, with the battle's stream registered so that a resume can stop it."""
        assert state.battle_id is not None
        yield from self._live.track(
            state.battle_id, self._run(state, jobs, self._conversation_ids(state), replaces)
        )

    def resume(self, token: str, mode: BattleMode) -> BattleState:
        """The battle a browser's saved ``token`` names, rebuilt from the database (see
        :func:`~arena_app.services.battle_resume.resume_battle`); :class:`InputRejected` when refused."""
        claim = self._tokens.check(token, mode)
        return resume_battle(self._sf, self._picker, claim, token, self._live, self._running)

    def _pairs(self, state: BattleState, side: int) -> list[tuple[str, str | None]]:
        return [(user, answers[side]) for user, answers in state.turns]

    def _conversation_ids(self, state: BattleState) -> list[int]:
        return [side.conversation_id for side in state.sides]

    def _settle(self, state: BattleState, index: int, outcome: SideOutcome) -> None:
        if outcome.error and state.mode == BattleMode.ANONY:
            # upstream error texts may name the model ("model x does not exist")
            outcome.error = self._detector.mask(outcome.error)
        state.settle(index, outcome)

    # ------------------------------------------------------------------ voting

    def vote(self, state: BattleState, choice: str, client: ClientIdentity) -> BattleState:
        """Record the one vote of this battle. ``choice``: a key of :data:`~arena_app.domain.VOTE_CHOICES`."""
        outcome = VOTE_CHOICES.get(choice)
        if outcome is None:
            raise VoteRejected(f"Unknown vote {choice!r}.")
        if state.battle_id is None:
            raise VoteRejected("Send a message first: there is nothing to vote on yet.")
        if state.voted:
            raise VoteRejected("You already voted in this battle. Press “New round” to start another.")
        if state.generating:
            raise VoteRejected("Wait until both answers have finished before voting.")
        failed = state.side_failed()
        if failed:
            raise VoteRejected(
                " ".join(failed) + " This round cannot be voted: regenerate or start a new round."
            )
        if not state.can_vote:
            raise VoteRejected("Both answers must finish before you can vote.")
        answers = [a for _, pair in state.turns for a in pair if a]
        leaks = self._detector.leaks(answers) if state.mode == BattleMode.ANONY else []
        excluded = ExcludedReason.IDENTITY_LEAK if leaks else None
        tags = self._tags(state)
        with storage_errors(duplicate_vote=ALREADY_VOTED), session_scope(self._sf) as s:
            self._vote_limit.lock(s, client.client_hash)
            vote = api.record_vote(
                s,
                battle_id=state.battle_id,
                outcome=outcome,
                turn_count=len(state.turns),
                session_id=client.session_id,
                client_hash=client.client_hash,
                excluded_reason=excluded,
            )
            self._vote_limit.check(s, client.client_hash, vote.id)
            if tags:
                api.add_battle_tags(s, state.battle_id, tags)
        state.outcome = outcome
        state.excluded_reason = excluded
        state.leaked_words = leaks
        return state

    def _tags(self, state: BattleState) -> list[str]:
        """Category tags at vote time; a failure here must never cost the vote."""
        try:
            from leaderboard.categories import battle_categories

            return list(
                battle_categories(  # scans prompts and answers for code itself (fences included)
                    turn_count=len(state.turns),
                    prompts=[user for user, _ in state.turns],
                    answers=[a or "" for _, pair in state.turns for a in pair],
                )
            )
        except Exception:
            log.exception("could not compute battle categories; storing the vote without tags")
            return []

    def reveal(self, state: BattleState) -> list[SideStats] | None:
        """Model names and last-answer stats, only after the vote."""
        if not state.voted:
            return None
        stats = []
        for side in state.sides:
            last = side.last
            stats.append(
                SideStats(
                    model=side.model,
                    ttft_s=last.ttft_s if last else None,
                    duration_s=last.duration_s if last else 0.0,
                    tokens=token_count(last) if last else 0,
                )
            )
        return stats
