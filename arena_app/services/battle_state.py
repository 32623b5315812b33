"""Per-user battle state (kept in the UI's ``gr.State``, server side; never sent to the browser)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from arena_app.domain import BattleMode, ExcludedReason, Outcome
from arena_app.providers.base import GenerationParams
from arena_app.services.answers import sentence
from arena_app.services.conversation import RunState
from arena_app.services.live_answers import SideOutcome

LABELS = ("Model A", "Model B")


@dataclass
class Side:
    model: str
    conversation_id: int
    params: GenerationParams
    last: SideOutcome | None = None  # outcome of the latest answer


@dataclass
class BattleState(RunState):
    """One user's current battle. Kept server side; never sent to the browser."""

    mode: BattleMode = BattleMode.ANONY
    battle_id: int | None = None
    sides: list[Side] = field(default_factory=list)
    # (user text, [answer of side A, answer of side B]); answers None while not finished
    turns: list[tuple[str, list[str | None]]] = field(default_factory=list)
    live: list[str] = field(default_factory=lambda: ["", ""])  # text streamed so far in the running turn
    outcome: Outcome | None = None  # the vote, once cast
    excluded_reason: ExcludedReason | None = None
    leaked_words: list[str] = field(default_factory=list)
    # signed token the browser keeps to come back to this battle (None until the battle is stored)
    resume_token: str | None = None

    def begin_answers(self) -> None:
        self.live = ["", ""]
        for side in self.sides:
            side.last = None

    def show_live(self, texts: Sequence[str]) -> None:
        self.live = list(texts)

    def settle(self, index: int, outcome: SideOutcome) -> None:
        self.sides[index].last = outcome
        self.turns[-1][1][index] = outcome.text

    @property
    def voted(self) -> bool:
        return self.outcome is not None

    def side_failed(self) -> list[str]:
        """One sentence per failed side of the last turn ("Model B did not answer within 60 s.")."""
        return [sentence(m) for m in self._failures()]

    def _failures(self) -> list[str]:
        return [
            s.last.error or f"{LABELS[i]} failed."
            for i, s in enumerate(self.sides)
            if s.last and not s.last.ok
        ]

    @property
    def can_vote(self) -> bool:
        return (
            self.battle_id is not None
            and not self.voted
            and not self.generating
            and bool(self.turns)
            and all(s.last is not None and s.last.ok for s in self.sides)
        )

    def transcript(self, side: int) -> list[tuple[str, str | None]]:
        """(user, answer) pairs for one side, including the running turn's partial text."""
        pairs: list[tuple[str, str | None]] = []
        for n, (user, answers) in enumerate(self.turns):
            answer = answers[side]
            if answer is None and n == len(self.turns) - 1 and self.generating:
                answer = self.live[side]
            pairs.append((user, answer))
        return pairs


@dataclass(frozen=True)
class SideStats:
    model: str
    ttft_s: float | None
    duration_s: float
    tokens: int
