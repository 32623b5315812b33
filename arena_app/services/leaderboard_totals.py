"""Counted and excluded vote totals of a leaderboard snapshot: computed at recompute time, stored in the
snapshot row's ``params`` (keys ``vote_rules`` and ``excluded``; older snapshots have neither) and shown in
the leaderboard summary, so an exclusion that goes wrong is seen where the ratings are.

Reasons: each stored ``votes.excluded_reason`` (``identity_leak``, ``anomalous_judge``) and the
recompute-time rules (``excluded_model``, ``daily_vote_cap``; :class:`VoteRules`).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from arena_app.services.leaderboard_votes import VoteRules
from arena_app.storage import integrity_queries as iq
from arena_app.storage.leaderboard_queries import VoteSelection
from leaderboard.filters import resolve_models

JSONDict = dict[str, object]


def exclusion_totals(s: Session, selection: VoteSelection) -> dict[str, int]:
    """Votes of the selection's category left out, by reason (zero counts left out)."""
    return iq.exclusion_totals(s, selection)


def unknown_models(s: Session, rules: VoteRules) -> tuple[str, ...]:
    """Excluded-model names that no stored conversation has (most likely a typo; they exclude nothing)."""
    if not rules.excluded_models:
        return ()
    _, unknown = resolve_models(iq.stored_model_names(s), rules.excluded_models)
    return tuple(unknown)


def with_vote_totals(params: JSONDict, rules: VoteRules, excluded: Mapping[str, int]) -> JSONDict:
    """A snapshot's ``params`` with the rules it was computed under and the excluded totals."""
    return {**params, "vote_rules": rules.to_json(), "excluded": dict(excluded)}


def read_excluded(params: Mapping[str, object]) -> dict[str, int] | None:
    """The excluded totals stored with a snapshot (None: an older snapshot without them)."""
    raw = params.get("excluded")
    if not isinstance(raw, dict):
        return None
    return {str(k): int(v) for k, v in raw.items() if isinstance(v, int) and not isinstance(v, bool)}


def describe_excluded(excluded: Mapping[str, int]) -> str:
    """``identity_leak 3, anomalous_judge 120`` (largest first), or ``none``."""
    if not excluded:
        return "none"
    return ", ".join(f"{k} {v:,}" for k, v in sorted(excluded.items(), key=lambda kv: (-kv[1], kv[0])))
