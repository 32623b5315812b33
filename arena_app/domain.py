"""The arena's shared vocabulary: outcomes, modes, feedback kinds, finish and exclusion reasons.

THE one place these words are defined. Storage (check constraints, queries), services, the UI, the
leaderboard's input readers and the exports all import them from here. The values are FastChat's strings
(``model_a``, ``tie (bothbad)``, ``anony`` ...), so stored rows and exported files stay FastChat-compatible;
each enum is a :class:`~enum.StrEnum`, so a member compares equal to its string.

This module imports nothing from the arena (it is a leaf that ``storage`` and ``leaderboard`` may share).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class Outcome(StrEnum):
    """A vote's result, in FastChat's names. ``code`` is the leaderboard's integer outcome code."""

    MODEL_A = "model_a"
    MODEL_B = "model_b"
    TIE = "tie"
    BOTHBAD = "tie (bothbad)"

    @property
    def code(self) -> int:
        """0 = model_a wins, 1 = model_b wins, 2 = tie, 3 = tie (bothbad) (see leaderboard/data.py)."""
        return OUTCOME_NAMES.index(self.value)


#: Outcome names in code order (index = the leaderboard's outcome code).
OUTCOME_NAMES: tuple[str, ...] = tuple(o.value for o in Outcome)
#: Outcome name -> the leaderboard's integer outcome code.
OUTCOME_CODES: dict[str, int] = {name: code for code, name in enumerate(OUTCOME_NAMES)}

#: What a voter clicks -> the outcome stored.
VoteChoice = Literal["a", "b", "tie", "bothbad"]
VOTE_CHOICES: dict[str, Outcome] = {
    "a": Outcome.MODEL_A,
    "b": Outcome.MODEL_B,
    "tie": Outcome.TIE,
    "bothbad": Outcome.BOTHBAD,
}


class BattleMode(StrEnum):
    """``anony``: two sampled models, names hidden until the vote (counted on the leaderboard);
    ``named``: side-by-side with models the user picked (stored, not counted)."""

    ANONY = "anony"
    NAMED = "named"


class ConversationMode(StrEnum):
    """A conversation is one side of a battle (``anony``/``named``) or a direct chat."""

    ANONY = "anony"
    NAMED = "named"
    DIRECT = "direct"


class FeedbackKind(StrEnum):
    """Direct-chat feedback on one answer."""

    UPVOTE = "upvote"
    DOWNVOTE = "downvote"
    FLAG = "flag"


class FinishReason(StrEnum):
    """How an answer ended. Providers may report other values (passed through and stored as given)."""

    STOP = "stop"  # the model finished
    LENGTH = "length"  # cut by the output token limit
    STOPPED = "stopped"  # the user pressed Stop or left; the text is partial
    ERROR = "error"  # the upstream failed; the text is partial


class ExcludedReason(StrEnum):
    """Why a stored vote does not count on the leaderboard (the vote is kept, never deleted)."""

    IDENTITY_LEAK = "identity_leak"  # an answer named a model or organization of the arena
    ANOMALOUS_JUDGE = "anomalous_judge"  # `arena integrity scan --apply` flagged the voter (restorable)
    # set by `arena import logs` (FastChat's cleaning rules, clean_battle_data.py):
    ERROR_MARKER = "error_marker"  # a message holds an error text (network, moderation, API error)
    INVALID_NAMES = "invalid_names"  # one side's name shown, or names shown that did not answer


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    """The string values of a vocabulary enum, in definition order (for check constraints and choices)."""
    return tuple(member.value for member in enum)
