"""SQL behind ``arena integrity``: the counted votes a scan scores, marking and restoring a flagged judge's
votes (``votes.excluded_reason``; rows are never deleted), and vote counts per UTC day and reason.

Only anonymous battles are read or marked: they are the only votes that can count on the leaderboard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import ColumnElement, Select

from arena_app.domain import OUTCOME_CODES, BattleMode, ExcludedReason
from arena_app.storage.leaderboard_queries import _CONVERSATION_MODELS, VoteSelection, in_category
from arena_app.storage.models import Battle, Conversation, Vote
from arena_app.storage.vote_rules import counted_base, model_excluded, utc_day, within_daily_cap

Codes = NDArray[np.int64]
_CHUNK = 500  # hashes per UPDATE ... IN (...)


@dataclass(frozen=True)
class ScanVotes:
    """Counted votes one per row in vote-id order; codes index ``models`` and ``judges`` (sorted)."""

    models: list[str]
    judges: list[str]  # client hashes
    vote_id: Codes
    judge: Codes
    model_a: Codes
    model_b: Codes
    outcome: Codes
    features_a: NDArray[np.float64]  # (n, 4): answer_tokens, header_count, list_count, bold_count
    features_b: NDArray[np.float64]
    in_window: NDArray[np.bool_]  # created at or after ``since`` (every vote when there is none)


def scan_votes(s: Session, since: datetime | None = None) -> ScanVotes:
    """Every counted vote (self-battles left out) with its judge and the answers' style totals."""
    ca, cb = aliased(Conversation), aliased(Conversation)
    style = [c for x in (ca, cb) for c in (x.answer_tokens, x.header_count, x.list_count, x.bold_count)]
    window = Vote.created_at >= since if since is not None else Vote.id.is_not(None)
    stmt = (
        select(Vote.id, Vote.client_hash, Battle.model_a, Battle.model_b, Vote.outcome, *style)
        .add_columns(case((window, 1), else_=0))
        .select_from(Vote)
        .join(Battle, Battle.id == Vote.battle_id)
        .join(ca, ca.id == Battle.conversation_a_id)
        .join(cb, cb.id == Battle.conversation_b_id)
        .where(counted_base(), Battle.model_a != Battle.model_b)
        .order_by(Vote.id)
    )
    rows = s.execute(stmt).all()
    models = sorted({r[2] for r in rows} | {r[3] for r in rows})
    judges = sorted({r[1] for r in rows})
    mid = {m: i for i, m in enumerate(models)}
    jid = {j: i for i, j in enumerate(judges)}
    n = len(rows)
    feats = np.array([r[5:13] for r in rows], dtype=np.float64).reshape(n, 8)
    return ScanVotes(
        models,
        judges,
        np.fromiter((r[0] for r in rows), np.int64, n),
        np.fromiter((jid[r[1]] for r in rows), np.int64, n),
        np.fromiter((mid[r[2]] for r in rows), np.int64, n),
        np.fromiter((mid[r[3]] for r in rows), np.int64, n),
        np.fromiter((OUTCOME_CODES[r[4]] for r in rows), np.int64, n),
        feats[:, :4],
        feats[:, 4:],
        np.fromiter((bool(r[13]) for r in rows), bool, n),
    )


def _anony_battles() -> Select[int]:
    return select(Battle.id).where(Battle.mode == BattleMode.ANONY)


def mark_judges(s: Session, judges: Sequence[str], reason: ExcludedReason, since: datetime | None) -> int:
    """Set ``excluded_reason`` on the counted votes (from ``since``) of these judges; how many changed."""
    changed = 0
    for i in range(0, len(judges), _CHUNK):
        stmt = update(Vote).where(
            Vote.client_hash.in_(list(judges[i : i + _CHUNK])),
            Vote.excluded_reason.is_(None),
            Vote.battle_id.in_(_anony_battles()),
        )
        if since is not None:
            stmt = stmt.where(Vote.created_at >= since)
        result = s.execute(
            stmt.values(excluded_reason=reason.value), execution_options={"synchronize_session": False}
        )
        changed += int(getattr(result, "rowcount", 0))
    s.flush()
    return changed


def clear_reason(s: Session, reason: ExcludedReason) -> int:
    """Make every vote excluded for ``reason`` count again; how many changed (other reasons untouched)."""
    result = s.execute(
        update(Vote).where(Vote.excluded_reason == reason.value).values(excluded_reason=None),
        execution_options={"synchronize_session": False},
    )
    s.flush()
    return int(getattr(result, "rowcount", 0))


CAST = "cast"  # the reason slot of daily_counts rows that count every vote of the day


def daily_counts(s: Session, rules: VoteSelection) -> list[tuple[str, str, int]]:
    """(UTC day ``YYYY-MM-DD``, what, votes) over anonymous battles' votes: ``what`` is :data:`CAST`
    (every vote), a stored ``excluded_reason``, or ``excluded_model`` / ``daily_vote_cap`` for the
    recompute-time rules of ``rules`` (its category fields are ignored)."""
    day = utc_day(Vote.created_at)

    def per_day(what: str | None, *where: ColumnElement[bool]) -> list[tuple[str, str, int]]:
        """Votes per day under ``where``, labelled ``what`` (None: by the stored excluded_reason)."""
        keys = (day,) if what is not None else (day, Vote.excluded_reason)
        stmt = (
            select(*keys, func.count())
            .select_from(Vote)
            .join(Battle, Battle.id == Vote.battle_id)
            .where(Battle.mode == BattleMode.ANONY, *where)
            .group_by(*keys)
        )
        if what is not None:
            return [(str(r[0]), what, int(r[1])) for r in s.execute(stmt).all()]
        return [(str(r[0]), str(r[1]), int(r[2])) for r in s.execute(stmt).all()]

    rows = per_day(CAST) + per_day(None, Vote.excluded_reason.is_not(None))
    models = rules.excluded_models
    if models:
        rows += per_day("excluded_model", counted_base(), model_excluded(models))
    if rules.daily_vote_cap > 0:
        kept = [~model_excluded(models)] if models else []
        rows += per_day(
            "daily_vote_cap", counted_base(), *kept, ~within_daily_cap(rules.daily_vote_cap, models)
        )
    return sorted(rows)


def exclusion_totals(s: Session, selection: VoteSelection) -> dict[str, int]:
    """Votes of the selection's category left out, by reason: each stored ``excluded_reason``, then
    ``excluded_model`` and ``daily_vote_cap`` for the recompute-time rules (zero counts left out)."""
    base = in_category(
        select(func.count()).select_from(Vote).join(Battle, Battle.id == Vote.battle_id), selection
    )
    base = base.where(Battle.mode == BattleMode.ANONY)
    stored = in_category(
        select(Vote.excluded_reason, func.count())
        .select_from(Vote)
        .join(Battle, Battle.id == Vote.battle_id),
        selection,
    ).where(Battle.mode == BattleMode.ANONY, Vote.excluded_reason.is_not(None))
    totals = {str(r[0]): int(r[1]) for r in s.execute(stored.group_by(Vote.excluded_reason)).all()}
    models = selection.excluded_models
    if models:
        totals["excluded_model"] = int(s.scalar(base.where(counted_base(), model_excluded(models))) or 0)
    if selection.daily_vote_cap > 0:
        over = base.where(counted_base(), ~within_daily_cap(selection.daily_vote_cap, models))
        if models:
            over = over.where(~model_excluded(models))
        totals["daily_vote_cap"] = int(s.scalar(over) or 0)
    return {k: v for k, v in sorted(totals.items()) if v}


def stored_model_names(s: Session) -> list[str]:
    """Every model name stored on some conversation (a loose index scan: milliseconds), sorted."""
    return sorted(s.scalars(_CONVERSATION_MODELS).all())
