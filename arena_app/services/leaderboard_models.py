"""The leaderboard's per-model page: one model's head-to-head record against each opponent, from the
counted votes of a category (read fresh with one grouped query; never from a snapshot).

Ties ("tie" and "tie (bothbad)") count as half a win in the win rate. Errors are those of
:mod:`arena_app.services.errors`: an unusable model name is :class:`InputRejected`, an outage
:class:`Unavailable`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from arena_app.domain import Outcome
from arena_app.services.errors import InputRejected, storage_errors
from arena_app.services.leaderboard_votes import vote_selection
from arena_app.storage import head_to_head_queries as hq
from arena_app.storage.db import session_scope

MAX_MODEL_NAME = 200  # the battles table's model name length


@dataclass(frozen=True)
class HeadToHeadRow:
    """The chosen model's record against one opponent."""

    opponent: str
    battles: int
    wins: int
    losses: int
    ties: int  # both kinds of tie

    @property
    def win_rate(self) -> float:
        """Wins plus half the ties, over the battles."""
        return (self.wins + 0.5 * self.ties) / self.battles if self.battles else 0.0


@dataclass(frozen=True)
class HeadToHead:
    category: str
    model: str
    rows: list[HeadToHeadRow]  # most battles first, then by opponent name

    @property
    def battles(self) -> int:
        return sum(r.battles for r in self.rows)


def head_to_head(session_factory: sessionmaker[Session], model: str, category: str) -> HeadToHead:
    """``model``'s counted votes of ``category`` against each opponent.

    Raises :class:`InputRejected` for an empty or overlong model name (and, from the category check,
    an invalid category) and :class:`Unavailable` when the database cannot be read."""
    name = model.strip() if isinstance(model, str) else ""
    if not name:
        raise InputRejected("Pick a model to see its head-to-head record.")
    if len(name) > MAX_MODEL_NAME:
        raise InputRejected(f"A model name has at most {MAX_MODEL_NAME} characters.")
    selection = vote_selection(category)
    with storage_errors(), session_scope(session_factory) as s:
        counts = hq.model_outcome_counts(s, selection, name)
    tally: dict[str, list[int]] = {}  # opponent -> [wins, losses, ties]
    for c in counts:
        is_a = c.model_a == name
        cell = tally.setdefault(c.model_b if is_a else c.model_a, [0, 0, 0])
        if c.outcome in (Outcome.TIE, Outcome.BOTHBAD):
            cell[2] += c.count
        elif (c.outcome == Outcome.MODEL_A) == is_a:
            cell[0] += c.count
        else:
            cell[1] += c.count
    rows = [HeadToHeadRow(opp, sum(v), v[0], v[1], v[2]) for opp, v in tally.items()]
    rows.sort(key=lambda r: (-r.battles, r.opponent))
    return HeadToHead(category, name, rows)
