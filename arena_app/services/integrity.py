"""Vote-integrity screening of the database's judges: ``arena integrity scan [--since DATE] [--apply]`` and
``arena integrity restore`` (the method: :mod:`leaderboard.integrity`; docs/leaderboard.md, "Vote
integrity").

A judge is a voter's salted client hash. The null is the current ratings: the style-controlled
Bradley-Terry fit on every counted vote (the benchmark's recommended configuration, ``bench/
integrity_scan.py``); each judge's counted votes (from ``since``) are scored with the surprise, model-bias
and longer-answer statistics, combined per judge and corrected across judges (Benjamini-Hochberg by
default). ``apply`` marks the flagged judges' counted votes ``excluded_reason='anomalous_judge'``: the rows
stay, the leaderboard stops counting them at its next recompute, and :func:`restore_judges` undoes exactly
that reason. Nothing is shown to the voter (shadow exclusion): the vote status never depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from arena_app.domain import ExcludedReason
from arena_app.services.errors import InputRejected, storage_errors
from arena_app.storage import integrity_queries as iq
from arena_app.storage.db import session_scope
from leaderboard.integrity import TESTS, outcome_model, scan_judges, vote_uniforms
from leaderboard.multitest import CORRECTIONS
from leaderboard.style import fit_style, style_covariates

REASON = ExcludedReason.ANOMALOUS_JUDGE


@dataclass(frozen=True)
class FlaggedJudge:
    judge: str  # the salted client hash
    votes: int  # scored votes
    pvalue: float  # the judge's combined p-value (Bonferroni over the statistics)
    adjusted: float  # after the correction across judges
    strongest: str  # the statistic with the smallest p-value
    model: str | None  # model_bias: the model the judge favours (z > 0) or buries


@dataclass(frozen=True)
class ScanOutcome:
    since: datetime | None
    votes: int  # counted votes scored
    judges: int  # judges with a scored vote
    screened: int  # judges with at least min_votes scored votes
    flagged: list[FlaggedJudge]  # most significant first
    alpha: float
    correction: str
    marked: int | None = None  # votes marked anomalous_judge (with apply)


def scan_database(
    session_factory: sessionmaker[Session],
    *,
    since: datetime | None = None,
    apply: bool = False,
    alpha: float = 0.05,
    min_votes: int = 5,
    correction: str = "bh",
) -> ScanOutcome:
    """Score every judge; with ``apply`` mark the flagged judges' counted votes (see module)."""
    if not 0 < alpha < 1 or min_votes < 1 or correction not in CORRECTIONS:
        raise InputRejected(
            f"need 0 < alpha < 1, min votes >= 1 and a correction in {', '.join(CORRECTIONS)}"
        )
    with storage_errors(), session_scope(session_factory) as s:
        votes = iq.scan_votes(s, since)
    outcome = _scan(votes, since, alpha, min_votes, correction)
    if apply and outcome.flagged:
        with storage_errors(), session_scope(session_factory) as s:
            marked = iq.mark_judges(s, [f.judge for f in outcome.flagged], REASON, since)
        return replace(outcome, marked=marked)
    return replace(outcome, marked=0 if apply else None)


def restore_judges(session_factory: sessionmaker[Session]) -> int:
    """Count again every vote marked ``anomalous_judge`` (other reasons untouched); how many."""
    with storage_errors(), session_scope(session_factory) as s:
        return iq.clear_reason(s, REASON)


def _scan(
    v: iq.ScanVotes, since: datetime | None, alpha: float, min_votes: int, correction: str
) -> ScanOutcome:
    w = v.in_window
    if not w.any():
        return ScanOutcome(since, 0, 0, 0, [], alpha, correction)
    m = len(v.models)
    x_all, _, std = style_covariates(v.features_a, v.features_b)
    x = np.ascontiguousarray(x_all[:, std > 1e-12])
    fit = fit_style(v.model_a, v.model_b, v.outcome, m, x)  # the current ratings: every counted vote
    a, b, o = v.model_a[w], v.model_b[w], v.outcome[w]
    null = outcome_model(a, b, o, fit.theta, offset=(x @ fit.beta)[w], rated=fit.rankable)
    used, judge = np.unique(v.judge[w], return_inverse=True)
    longer = (v.features_a[:, 0] - v.features_b[:, 0])[w]  # answer tokens: the longer-answer statistic
    scan = scan_judges(
        judge,
        a,
        b,
        o,
        null,
        len(used),
        vote_uniforms(v.vote_id[w]),
        covariate=longer,
        tests=TESTS,
        min_votes=min_votes,
        alpha=alpha,
        correction=correction,
    )
    parts = {"surprise": scan.surprise_p, "model_bias": scan.bias_p, "covariate": scan.covariate_p}
    flagged = []
    for code in scan.flagged_judges():
        strongest = min(scan.tests, key=lambda t: parts[t][code])
        model = v.models[scan.bias_model[code]] if scan.bias_model[code] >= 0 else None
        flagged.append(
            FlaggedJudge(
                v.judges[used[code]],
                int(scan.votes[code]),
                float(scan.pvalue[code]),
                float(scan.adjusted[code]),
                strongest,
                model if strongest == "model_bias" else None,
            )
        )
    return ScanOutcome(since, int(w.sum()), len(used), int(scan.screened.sum()), flagged, alpha, correction)
