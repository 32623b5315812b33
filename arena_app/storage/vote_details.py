"""Counted votes with the per-vote detail the leaderboard's science options need: the vote id (ranking
fragility maps a removal set back to votes), the battle's sampling weight (inverse-propensity weighting)
and a cluster id per vote (cluster intervals, per-judge views).

Clusters: ``judge`` is the voter (``votes.client_hash``, the salted client hash, numbered as the rows
arrive); ``conversation`` is the battle's opening prompt (the exact text of the first user message of side
A), so battles started from the same prompt share a cluster; a battle without a stored prompt is a cluster
of its own. Prompts are numbered by the database (``dense_rank``), so no prompt text is sent to the
client. Both come back as ``0..C-1``.

"Counted" is the rule of :mod:`arena_app.storage.leaderboard_queries` (the same filter function), and rows
come in vote-id order with self-battles left out, exactly as ``counted_battle_rows`` returns them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from arena_app.domain import OUTCOME_CODES, BattleMode
from arena_app.storage.leaderboard_queries import (
    EVERY_COUNTED_VOTE,
    Column,
    VoteSelection,
    _counted,
    _raw_batches,
)
from arena_app.storage.models import Battle, Message, Vote

ClusterBy = Literal["judge", "conversation"]
Codes = NDArray[np.int64]


@dataclass(frozen=True)
class VoteDetails:
    """Counted votes one per row in vote-id order; model codes index ``models`` (sorted names)."""

    models: list[str]
    vote_id: Codes
    model_a: Codes
    model_b: Codes
    outcome: Codes
    weight: NDArray[np.float64] | None  # the battle's sampling weight, when asked for
    cluster: Codes | None  # 0..n_clusters-1, when asked for
    n_clusters: int = 0


def counted_vote_details(
    s: Session,
    selection: VoteSelection = EVERY_COUNTED_VOTE,
    *,
    weights: bool = False,
    cluster: ClusterBy | None = None,
) -> VoteDetails:
    """Every selected counted vote with its id (and weight, cluster id when asked for)."""
    cols: list[Column] = [Vote.id, Battle.model_a, Battle.model_b, Vote.outcome]
    if weights:
        cols.append(Battle.sampling_weight)
    prompt = aliased(Message)
    if cluster == "judge":  # a window sort over 64-character hashes cost SQLite 2.5x the whole read
        cols.append(Vote.client_hash)
    elif cluster == "conversation":
        cols += [func.dense_rank().over(order_by=prompt.content), prompt.content.is_(None)]
    stmt = select(*cols).select_from(Vote).join(Battle, Battle.id == Vote.battle_id)
    if cluster == "conversation":
        stmt = stmt.outerjoin(
            prompt,
            and_(
                prompt.conversation_id == Battle.conversation_a_id,
                prompt.position == 0,
                prompt.role == "user",
                prompt.attempt == 0,
            ),
        )
    stmt = _counted(stmt, selection).order_by(Vote.id)
    ids: dict[str, int] = {}
    judges: dict[str, int] = {}
    parts: list[list[NDArray[Any]]] = []
    for batch in _raw_batches(s, stmt):  # DBAPI tuples, converted a batch at a time
        cols_t = list(zip(*batch, strict=True))
        for name in set(cols_t[1]).union(cols_t[2]):
            ids.setdefault(name, len(ids))
        parts.append(
            [
                np.array(cols_t[0], dtype=np.int64),
                np.fromiter(map(ids.__getitem__, cols_t[1]), dtype=np.int64, count=len(batch)),
                np.fromiter(map(ids.__getitem__, cols_t[2]), dtype=np.int64, count=len(batch)),
                np.fromiter(map(OUTCOME_CODES.__getitem__, cols_t[3]), dtype=np.int64, count=len(batch)),
                *(np.array(c, dtype=np.float64) for c in cols_t[4 : 4 + weights]),
                *(
                    _codes(judges, c) if cluster == "judge" else np.array(c, dtype=np.float64)
                    for c in cols_t[4 + weights :]
                ),
            ]
        )
    return _details(ids, parts, weights=weights, cluster=cluster)


def _codes(table: dict[str, int], values: tuple[Any, ...]) -> NDArray[np.int64]:
    """Each value's number in ``table`` (new values get the next one)."""
    for v in set(values):
        table.setdefault(v, len(table))
    return np.fromiter(map(table.__getitem__, values), dtype=np.int64, count=len(values))


def _details(
    ids: dict[str, int], parts: list[list[NDArray[Any]]], *, weights: bool, cluster: ClusterBy | None
) -> VoteDetails:
    width = 4 + weights + (0 if cluster is None else 1 if cluster == "judge" else 2)
    cols = [np.concatenate([p[c] for p in parts]) if parts else np.zeros(0) for c in range(width)]
    vote_id, a, b, o = (c.astype(np.int64) for c in cols[:4])
    keep = a != b  # a self-battle carries no information
    used = np.union1d(a[keep], b[keep])
    by_code = {code: name for name, code in ids.items()}
    names = sorted(by_code[int(c)] for c in used)
    remap = np.full(len(ids), -1, dtype=np.int64)
    for new, name in enumerate(names):
        remap[ids[name]] = new
    vote_id, a, b, o = vote_id[keep], remap[a[keep]], remap[b[keep]], o[keep]
    k = 4
    w = None
    if weights:
        w = cols[k][keep]
        k += 1
    cl = None
    n_clusters = 0
    if cluster is not None:
        rank = cols[k][keep].astype(np.int64)
        if cluster == "conversation":  # no stored prompt: the battle is a cluster of its own
            missing = cols[k + 1][keep] != 0
            rank = np.where(missing, -1 - np.arange(len(rank)), rank)
        _, inverse = np.unique(rank, return_inverse=True)  # dense again after the self-battles went
        cl = np.asarray(inverse, dtype=np.int64).ravel()
        n_clusters = int(cl.max()) + 1 if len(cl) else 0
    return VoteDetails(names, vote_id, a, b, o, w, cl, n_clusters)


def any_sampling_weight(s: Session) -> bool:
    """Whether any anonymous battle was drawn with a weight other than 1 (non-uniform sampling)."""
    stmt = select(Battle.id).where(Battle.mode == BattleMode.ANONY, Battle.sampling_weight != 1.0).limit(1)
    return s.scalar(stmt) is not None
