"""What a snapshot stores besides the table: the fragility of the #1 spot and the Davidson tie parameter.

Both are computed at recompute time (``compute_leaderboard``), so the leaderboard tab only reads them.
"""

from __future__ import annotations

import math

from threadpoolctl import threadpool_limits

from leaderboard.bt import BTFit
from leaderboard.data import PairCounts
from leaderboard.davidson import sandwich_cov
from leaderboard.flip_search import find_flip
from leaderboard.fragility import Target, fragility_line
from leaderboard.intervals import PointFit
from leaderboard.result import FragilitySummary, TieModelSummary
from leaderboard.sandwich import Z95


def top1_fragility(pc: PairCounts, fit: BTFit, models: list[str]) -> FragilitySummary:
    """The smallest verified set this search finds whose removal changes the #1 model (see
    :func:`leaderboard.flip_search.find_flip`: default cap 5% of the votes), as the snapshot stores it."""
    res = find_flip(pc, Target.top(1), fit=fit)
    return FragilitySummary("top1", res.found, res.n_removed, res.n_total, fragility_line(res, models))


def tie_summary(pf: PointFit, votes: PairCounts) -> TieModelSummary:
    """The tie parameter of a Davidson fit with its 95% sandwich interval (none at the boundary, i.e. no
    ties or only ties) and its split by the share of "both bad" among the ties."""
    d = pf.davidson
    assert d is not None, "tie_summary needs a Davidson fit"
    lower = upper = None
    if math.isfinite(d.log_nu) and votes.ties.sum() > 0:
        meat = None if pf.weighted is None else pf.weighted.pairs_sq
        with threadpool_limits(1, user_api="blas"):
            var = float(sandwich_cov(pf.counts, d, meat_counts=meat)[-1, -1])
        sd = math.sqrt(max(var, 0.0))
        lower, upper = math.exp(d.log_nu - Z95 * sd), math.exp(d.log_nu + Z95 * sd)
    nu = d.nu
    nu_tie = d.nu_tie if d.nu_tie is not None else nu
    nu_bothbad = d.nu_bothbad if d.nu_bothbad is not None else 0.0
    p_equal = float(d.tie_probability_equal)
    return TieModelSummary("davidson", nu, lower, upper, float(nu_tie), float(nu_bothbad), p_equal)
