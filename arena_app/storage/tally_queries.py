"""SQL of the incremental leaderboard: the counted-votes version, and each category's stored tally (pair
counts, online Elo, the last vote id it saw).

The *version* of the counted votes up to a vote id ``w`` is ``(count, sum of h(id))`` over the votes with
``excluded_reason IS NULL AND id <= w``, with ``h(id) = id * 2654435761 mod 4294967291`` (a cheap hash both
databases compute in 64-bit integers). A vote excluded or restored later, a vote deleted, or a vote that
commits with an id below one already seen (PostgreSQL sequences hand out ids before commit) changes the
version below ``w``, which is how the recompute knows its tallies are stale and rebuilds them. A battle's
mode, models, tags and a vote's outcome and turn count never change after they are written, so they need
no version of their own (an operator who edits them by hand runs ``arena leaderboard rebuild``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, delete, func, insert, literal, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from arena_app.storage.leaderboard_queries import VoteSelection, _counted
from arena_app.storage.models import (
    Battle,
    LeaderboardEloRating,
    LeaderboardPairCount,
    LeaderboardTally,
    Vote,
)
from arena_app.storage.types import utcnow

HASH_MULTIPLIER = 2654435761
HASH_MODULUS = 4294967291
Pair = tuple[str, str]  # (model_i, model_j) with model_i < model_j
OUTCOME_CELLS = ("i_wins", "j_wins", "ties", "bothbad")


def _vote_hash() -> ColumnElement[int]:
    return func.coalesce(func.sum((Vote.id * literal(HASH_MULTIPLIER)) % literal(HASH_MODULUS)), 0)


def max_vote_id(s: Session) -> int:
    """The highest vote id (0 when there is none)."""
    return int(s.scalar(select(func.coalesce(func.max(Vote.id), 0))) or 0)


def votes_version(s: Session, after_id: int, up_to_id: int) -> tuple[int, int]:
    """(count, id-hash sum) of the votes without an exclusion reason in ``after_id < id <= up_to_id``."""
    row = s.execute(
        select(func.count(), _vote_hash()).where(
            Vote.excluded_reason.is_(None), Vote.id > after_id, Vote.id <= up_to_id
        )
    ).one()
    return int(row[0]), int(row[1])


def category_version(s: Session, selection: VoteSelection) -> tuple[int, int, int]:
    """(count, id-hash sum, how many have a sampling weight other than 1) of the counted votes
    ``selection`` selects (a category's content)."""
    weighted = func.coalesce(func.sum(case((Battle.sampling_weight != 1.0, 1), else_=0)), 0)
    stmt = _counted(
        select(func.count(), _vote_hash(), weighted)
        .select_from(Vote)
        .join(Battle, Battle.id == Vote.battle_id),
        selection,
    )
    row = s.execute(stmt).one()
    return int(row[0]), int(row[1]), int(row[2])


@dataclass
class Tally:
    """One category's stored state, as plain Python values."""

    category: str
    last_vote_id: int
    votes_key: str  # "count:hash" of every unexcluded vote up to last_vote_id (votes_version)
    elo_key: str
    vote_count: int
    vote_hash: int
    weighted_votes: int = 0
    cells: dict[Pair, list[int]] = field(default_factory=dict)  # [i_wins, j_wins, ties, bothbad]
    elo: dict[str, float] = field(default_factory=dict)
    updated_at: datetime | None = None
    # what changed since it was loaded (written back by save_tally)
    stored_cells: set[Pair] = field(default_factory=set)
    changed_cells: set[Pair] = field(default_factory=set)
    stored_elo: set[str] = field(default_factory=set)
    changed_elo: set[str] = field(default_factory=set)
    new: bool = True
    loaded_at: tuple[int, str] | None = None  # (last_vote_id, votes_key) as loaded: the save's condition


def load_tally(s: Session, category: str) -> Tally | None:
    row = s.get(LeaderboardTally, category)
    if row is None:
        return None
    cells = {
        (r.model_i, r.model_j): [int(r.i_wins), int(r.j_wins), int(r.ties), int(r.bothbad)]
        for r in s.execute(
            select(
                LeaderboardPairCount.model_i,
                LeaderboardPairCount.model_j,
                LeaderboardPairCount.i_wins,
                LeaderboardPairCount.j_wins,
                LeaderboardPairCount.ties,
                LeaderboardPairCount.bothbad,
            ).where(LeaderboardPairCount.category == category)
        )
    }
    elo = {
        r.model: float(r.rating)
        for r in s.execute(
            select(LeaderboardEloRating.model, LeaderboardEloRating.rating).where(
                LeaderboardEloRating.category == category
            )
        )
    }
    return Tally(
        category,
        int(row.last_vote_id),
        row.votes_key,
        row.elo_key,
        int(row.vote_count),
        int(row.vote_hash),
        int(row.weighted_votes),
        cells,
        elo,
        row.updated_at,
        stored_cells=set(cells),
        stored_elo=set(elo),
        new=False,
        loaded_at=(int(row.last_vote_id), row.votes_key),
    )


def save_tally(s: Session, t: Tally) -> bool:
    """Write ``t`` back: a new tally replaces whatever the category had; an old one writes what changed,
    only if the stored tally is still the one it was loaded from (False, nothing written: another process
    advanced it meanwhile, e.g. after this one's lease expired)."""
    head = {
        "last_vote_id": t.last_vote_id,
        "votes_key": t.votes_key,
        "elo_key": t.elo_key,
        "vote_count": t.vote_count,
        "vote_hash": t.vote_hash,
        "weighted_votes": t.weighted_votes,
        "updated_at": utcnow(),
    }
    if t.new:
        delete_tallies(s, [t.category])
        s.execute(insert(LeaderboardTally).values(category=t.category, **head))
        cells, elo = set(t.cells), set(t.elo)
        old_cells: set[Pair] = set()
        old_elo: set[str] = set()
    else:
        assert t.loaded_at is not None
        done = s.execute(
            update(LeaderboardTally)
            .where(
                LeaderboardTally.category == t.category,
                LeaderboardTally.last_vote_id == t.loaded_at[0],
                LeaderboardTally.votes_key == t.loaded_at[1],
            )
            .values(**head)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            return False
        cells, elo = t.changed_cells, t.changed_elo
        old_cells, old_elo = cells & t.stored_cells, elo & t.stored_elo
    cell_rows = [
        {"category": t.category, "model_i": p[0], "model_j": p[1], **_cells(t, p)} for p in sorted(cells)
    ]
    _write(s, LeaderboardPairCount, [r for r in cell_rows if (r["model_i"], r["model_j"]) in old_cells], True)
    _write(s, LeaderboardPairCount, [r for r in cell_rows if (r["model_i"], r["model_j"]) not in old_cells])
    elo_rows = [{"category": t.category, "model": m, "rating": t.elo[m]} for m in sorted(elo)]
    _write(s, LeaderboardEloRating, [r for r in elo_rows if r["model"] in old_elo], True)
    _write(s, LeaderboardEloRating, [r for r in elo_rows if r["model"] not in old_elo])
    t.new = False
    t.stored_cells |= cells
    t.stored_elo |= elo
    t.changed_cells, t.changed_elo = set(), set()
    t.loaded_at = (t.last_vote_id, t.votes_key)
    return True


def _cells(t: Tally, pair: Pair) -> dict[str, int]:
    return dict(zip(OUTCOME_CELLS, t.cells[pair], strict=True))


def _write(
    s: Session,
    model: type[LeaderboardPairCount] | type[LeaderboardEloRating],
    rows: list[dict[str, object]],
    existing: bool = False,
) -> None:
    if rows:  # bulk UPDATE by primary key, or bulk INSERT (executemany)
        s.execute(update(model) if existing else insert(model), rows)


def delete_tallies(s: Session, categories: list[str] | None = None) -> int:
    """Forget the tallies of ``categories`` (every one when None); the number of categories forgotten."""
    where = [] if categories is None else [LeaderboardTally.category.in_(categories)]
    for model in (LeaderboardPairCount, LeaderboardEloRating):
        cond = [] if categories is None else [model.category.in_(categories)]
        s.execute(delete(model).where(*cond))
    return int(s.execute(delete(LeaderboardTally).where(*where)).rowcount or 0)  # type: ignore[attr-defined]
