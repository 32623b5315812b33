"""SQL of the leaderboard's per-model page and rating-over-time chart: one model's counted votes against each
opponent (one GROUP BY), and a category's newest stored snapshots."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from arena_app.storage import mapping
from arena_app.storage.leaderboard_queries import VoteSelection, _counted
from arena_app.storage.models import Battle, LeaderboardSnapshot, Vote
from arena_app.storage.records import SnapshotRecord


@dataclass(frozen=True)
class PairOutcomeCount:
    """Counted votes of one (model_a, model_b, outcome) combination."""

    model_a: str
    model_b: str
    outcome: str
    count: int


def model_outcome_counts(s: Session, selection: VoteSelection, model: str) -> list[PairOutcomeCount]:
    """Counted votes ``selection`` selects of battles with ``model`` on either side, grouped by
    (model_a, model_b, outcome); self-battles are left out (they carry no information)."""
    stmt = _counted(
        select(Battle.model_a, Battle.model_b, Vote.outcome, func.count())
        .select_from(Vote)
        .join(Battle, Battle.id == Vote.battle_id)
        .where(or_(Battle.model_a == model, Battle.model_b == model), Battle.model_a != Battle.model_b),
        selection,
    ).group_by(Battle.model_a, Battle.model_b, Vote.outcome)
    return [PairOutcomeCount(str(a), str(b), str(o), int(c)) for a, b, o, c in s.execute(stmt).all()]


def newest_snapshot_ids(s: Session, category: str, limit: int) -> list[int]:
    """Ids of the newest ``limit`` snapshots of ``category`` (either kind), oldest first; no results read."""
    stmt = (
        select(LeaderboardSnapshot.id)
        .where(LeaderboardSnapshot.category == category)
        .order_by(LeaderboardSnapshot.created_at.desc(), LeaderboardSnapshot.id.desc())
        .limit(limit)
    )
    return [int(i) for i in s.scalars(stmt).all()][::-1]


def snapshots_by_ids(s: Session, ids: list[int]) -> list[SnapshotRecord]:
    """The snapshots of ``ids``, oldest first."""
    if not ids:
        return []
    rows = s.scalars(select(LeaderboardSnapshot).where(LeaderboardSnapshot.id.in_(ids))).all()
    records = [mapping.snapshot_record(r) for r in rows]
    return sorted(records, key=lambda r: (r.created_at, r.id))
