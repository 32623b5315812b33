"""Per-vote detail for the leaderboard's science options, added to a category's :class:`BattleData`.

``--ci cluster-*`` needs each vote's cluster (judge or opening prompt); the inverse-propensity-weighted fit
needs each battle's sampling weight; ``--ties davidson`` reports the split of the tie parameter, which needs
the number of ``tie (bothbad)`` votes. The first two need one row per vote, so they always read the
counted votes in full (one vote-ordered query, :func:`arena_app.storage.vote_details.counted_vote_details`),
whatever path the rest of the recompute takes; Davidson's count comes from the rows already read or one
``GROUP BY``. Weights are read only when asked for (``--weights on``) or when some anonymous battle was
drawn with a weight other than 1 (``auto``: one query that stops at the first such battle).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from sqlalchemy.orm import Session

from arena_app.services.errors import Unavailable
from arena_app.services.leaderboard_votes import NO_RULES, VoteRules, vote_selection
from arena_app.storage import leaderboard_queries as q
from arena_app.storage.vote_details import VoteDetails, any_sampling_weight, counted_vote_details
from leaderboard.clusters import cluster_cells
from leaderboard.compute import BattleData, ComputeParams
from leaderboard.data import TIE_BOTHBAD, aggregate
from leaderboard.intervals import use_weights
from leaderboard.weighted import weighted_votes


def add_vote_details(
    s: Session,
    category: str,
    data: BattleData,
    votes: int,
    params: ComputeParams,
    rules: VoteRules = NO_RULES,
) -> tuple[BattleData, int]:
    """``data`` with the detail ``params`` need (weights, clusters, the "both bad" count)."""
    want_weights = params.weights == "on" or (params.weights == "auto" and any_sampling_weight(s))
    if not (want_weights or params.needs_clusters):
        if params.ties == "davidson":
            data = replace(data, bothbad=_bothbad(s, vote_selection(category, rules), data))
        return data, votes
    selection = vote_selection(category, rules)
    d = counted_vote_details(s, selection, weights=want_weights, cluster=params.cluster)
    return _with_details(data, d, params), len(d.vote_id)


def _with_details(data: BattleData, d: VoteDetails, params: ComputeParams) -> BattleData:
    """The detail rows become the fitted counts (and the Elo sequence), so all of them come from one
    read; style rows from the earlier read must be the same votes."""
    m = len(d.models)
    if data.style is not None:
        same = d.models == data.models and np.array_equal(d.model_a, data.style.model_a)
        if not same or not np.array_equal(d.outcome, data.style.outcome):
            raise Unavailable("the votes changed while the leaderboard read them; run the recompute again")
    wv = None if d.weight is None else weighted_votes(d.model_a, d.model_b, d.outcome, m, d.weight)
    clusters = None
    if d.cluster is not None:
        counts = d.weight if wv is not None and use_weights(params, wv) else None
        clusters = cluster_cells(d.model_a, d.model_b, d.outcome, m, d.cluster, counts=counts)
    sequence = (d.model_a, d.model_b, d.outcome) if data.sequence is not None else None
    return replace(
        data,
        models=d.models,
        pairs=aggregate(d.model_a, d.model_b, d.outcome, m),
        sequence=sequence,
        weighted=wv,
        clusters=clusters,
        bothbad=float((d.outcome == TIE_BOTHBAD).sum()),
    )


def _bothbad(s: Session, selection: q.VoteSelection, data: BattleData) -> float:
    if data.sequence is not None:
        return float((data.sequence[2] == TIE_BOTHBAD).sum())
    agg = q.aggregate_counted_votes(s, selection)
    return float(agg.count[agg.outcome == TIE_BOTHBAD].sum())
