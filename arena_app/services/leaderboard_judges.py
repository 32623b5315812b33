"""``arena leaderboard judges``: the per-judge (or per-prompt) view for the operator, from a battles file or
the database's counted votes: votes per judge, the share of the heaviest, and how far the ratings move
when the heaviest 1% are left out (see docs/leaderboard.md, "Per-judge and per-prompt views").

From the database a judge is the voter's salted client hash and a prompt the battle's opening prompt
(:mod:`arena_app.storage.vote_details`); from a file, the ``judge`` and ``question_id`` columns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from arena_app.files.battle_files import read_battles
from arena_app.services.errors import storage_errors
from arena_app.services.leaderboard_service import FILE_CLUSTER_COLUMNS
from arena_app.services.leaderboard_votes import InvalidLeaderboardRequest, checked_category, vote_selection
from arena_app.storage.db import session_scope
from arena_app.storage.vote_details import ClusterBy, counted_vote_details
from leaderboard.data import IntArray
from leaderboard.judges import ClusterSummary, LeaveOutShift, cluster_summary, leave_out_heaviest

NOUNS = {"judge": "judges", "conversation": "prompts"}


@dataclass(frozen=True)
class JudgesReport:
    source: str
    by: ClusterBy
    models: list[str]
    summary: ClusterSummary
    shift: LeaveOutShift | None  # None with fewer than two models (nothing to rate)
    seconds: float

    @property
    def noun(self) -> str:
        return NOUNS[self.by]

    def line(self) -> str:
        if self.shift is None:
            return "Too few models to measure how the ratings move."
        return self.shift.line(self.models, what=self.noun)


def _report(
    source: str,
    by: ClusterBy,
    models: list[str],
    arrays: tuple[IntArray, IntArray, IntArray, IntArray],
    fraction: float,
    t0: float,
) -> JudgesReport:
    if not 0 < fraction < 1:
        raise InvalidLeaderboardRequest(f"--fraction must be between 0 and 1, got {fraction}")
    a, b, o, cluster = arrays
    summary = cluster_summary(cluster, top_fraction=fraction)
    shift = None
    if len(models) >= 2 and summary.n_clusters >= 2:
        shift = leave_out_heaviest(a, b, o, len(models), cluster, fraction=fraction)
    return JudgesReport(source, by, models, summary, shift, time.perf_counter() - t0)


def judges_of_file(
    path: Path,
    *,
    by: ClusterBy = "judge",
    fraction: float = 0.01,
    fmt: str | None = None,
    category: str = "overall",
    keep_named: bool = False,
) -> JudgesReport:
    t0 = time.perf_counter()
    fb = read_battles(
        Path(path),
        fmt=fmt,
        category=checked_category(category),
        keep_named=keep_named,
        cluster=FILE_CLUSTER_COLUMNS[by],
    )
    assert fb.cluster is not None  # asked for: read_battles refuses a file without the column
    arrays = (fb.model_a, fb.model_b, fb.outcome, fb.cluster)
    return _report(str(path), by, fb.models, arrays, fraction, t0)


def judges_of_database(
    session_factory: sessionmaker[Session],
    *,
    by: ClusterBy = "judge",
    fraction: float = 0.01,
    category: str = "overall",
) -> JudgesReport:
    t0 = time.perf_counter()
    selection = vote_selection(category)
    with storage_errors(), session_scope(session_factory) as s:
        d = counted_vote_details(s, selection, cluster=by)
    assert d.cluster is not None
    arrays = (d.model_a, d.model_b, d.outcome, d.cluster)
    return _report(f"database, category {category}", by, d.models, arrays, fraction, t0)
