"""What the Leaderboard tab shows: the newest stored snapshot of a category, decoded, as rows and figures.

A snapshot row is decoded in one place, :func:`read_snapshot`. Reading never recomputes. Storage errors
come out as :mod:`arena_app.services.errors` (an outage is ``Unavailable``); an invalid category name is
:class:`~arena_app.services.leaderboard_votes.InvalidLeaderboardRequest`. See docs/leaderboard.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from arena_app.services.errors import storage_errors
from arena_app.services.leaderboard_totals import describe_excluded, read_excluded
from arena_app.services.leaderboard_votes import checked_category, snapshot_categories, vote_selection
from arena_app.services.view_cache import ViewCache
from arena_app.storage import api
from arena_app.storage import snapshot_queries as sq
from arena_app.storage.db import session_scope
from arena_app.storage.records import SnapshotRecord
from leaderboard.categories import OVERALL
from leaderboard.result import LeaderboardResult, SnapshotParams


@dataclass(frozen=True)
class StoredSnapshot:
    """A stored snapshot, decoded."""

    id: int
    category: str
    created_at: datetime
    vote_count: int
    params: SnapshotParams
    result: LeaderboardResult
    excluded: dict[str, int] | None = None  # votes left out, by reason (None: an older snapshot)


def read_snapshot(record: SnapshotRecord) -> StoredSnapshot:
    """Decode a snapshot row: THE one place the stored JSON is read (old rows have the same layout)."""
    params = SnapshotParams.from_json(record.params)
    result = LeaderboardResult.from_json(record.result)
    excluded = read_excluded(record.params)
    return StoredSnapshot(
        record.id, record.category, record.created_at, record.vote_count, params, result, excluded
    )


def latest_snapshot(session_factory: sessionmaker[Session], category: str = OVERALL) -> StoredSnapshot | None:
    """The newest snapshot of ``category``, or None when there is none."""
    checked_category(category)
    with storage_errors(), session_scope(session_factory) as s:
        record = api.latest_snapshot(s, category)
    return None if record is None else read_snapshot(record)


@dataclass(frozen=True)
class LeaderboardRow:
    rank_ub: int
    model: str
    rating: float
    lower: float
    upper: float
    votes: int
    online_elo: float
    preliminary: bool
    unrankable: bool


@dataclass(frozen=True)
class LeaderboardView:
    category: str
    style_control: bool
    rows: list[LeaderboardRow]
    total_votes: int
    total_models: int
    created_at: datetime | None  # when these ratings were computed
    params: SnapshotParams | None  # None when there is no snapshot
    figures: dict[str, str]  # plotly JSON by name (leaderboard.charts.FIGURE_NAMES), serialised once
    categories: list[str]
    style_coefficients: dict[str, float]
    message: str | None = None
    # "The #1 spot changes if N of M votes are removed ...", computed at recompute time and stored in the
    # snapshot (None: not computed, or the style-controlled view, which it does not describe)
    fragility: str | None = None
    snapshot_id: int | None = None
    newer_votes: int = 0  # counted votes of the category that are not in these ratings yet
    # the votes separate the style model, so its intervals were floored at the plain fit's width
    style_floored: bool = False
    # votes of the category left out at the snapshot, by reason (total_votes are the counted ones);
    # None: an older snapshot that did not record them
    excluded: dict[str, int] | None = None

    def excluded_text(self) -> str:
        """The excluded totals by reason, largest first (``none``; ``not recorded`` for an old snapshot)."""
        return "not recorded" if self.excluded is None else describe_excluded(self.excluded)


def latest_view(
    session_factory: sessionmaker[Session],
    category: str = OVERALL,
    style_control: bool = False,
    cache: ViewCache[LeaderboardView] | None = None,
) -> LeaderboardView:
    """What the Leaderboard tab shows: the newest snapshot of ``category`` (never recomputes); the style
    view shows the newest style-controlled one. With ``cache``, a snapshot's view (rows and figures) is
    built once; each call only asks which snapshot is newest and how many votes came after it.

    Raises :class:`InvalidLeaderboardRequest` for an invalid category name and
    :class:`~arena_app.services.errors.Unavailable` when the database cannot be read.
    """
    checked_category(category)
    with storage_errors(), session_scope(session_factory) as s:
        head = sq.latest_head(s, category, True if style_control else None)
        if head is None and style_control:
            head = sq.latest_head(s, category)
        cats = snapshot_categories(s)
        newer = 0
        if head is not None:
            after_time = head.created_at if head.last_vote_id is None else None
            newer = sq.counted_votes_after(
                s, vote_selection(category), after_id=head.last_vote_id, after_time=after_time
            )
        view = None if head is None or cache is None else cache.get((head.id, style_control))
        if view is None and head is not None:
            record = sq.snapshot_by_id(s, head.id)
            if record is not None:
                view = _build_view(read_snapshot(record), category, style_control)
                if cache is not None:
                    cache.put((head.id, style_control), view)
    if view is None:
        hint = "" if category == OVERALL else f" --category {category}"
        empty = LeaderboardView(category, style_control, [], 0, 0, None, None, {}, cats, {})
        return replace(
            empty, message=f"No leaderboard for '{category}' yet: run `arena leaderboard recompute{hint}`."
        )
    return replace(view, categories=cats, newer_votes=newer)


def _build_view(snap: StoredSnapshot, category: str, style_control: bool) -> LeaderboardView:
    result = snap.result
    base = LeaderboardView(
        category,
        style_control,
        [],
        snap.vote_count,
        len(result.models),
        snap.created_at,
        snap.params,
        {},
        [],
        {},
        snapshot_id=snap.id,
        excluded=snap.excluded,
    )
    if style_control and result.style is None:
        return replace(
            base, message="This snapshot has no style-controlled ratings: recompute with --style-control."
        )
    coefs = dict(result.style.coefficients) if result.style is not None else {}
    fragility = result.fragility.line if result.fragility is not None and not style_control else None
    figures = {name: fig.to_json() for name, fig in result.figures(style=style_control).items()}
    return replace(
        base,
        rows=_view_rows(result, style_control),
        figures=figures,
        style_coefficients=coefs,
        fragility=fragility,
        style_floored=bool(style_control and result.style is not None and result.style.floored),
    )


def _view_rows(result: LeaderboardResult, style: bool) -> list[LeaderboardRow]:
    st = result.style if style else None
    rating, lower, upper = (
        (st.rating, st.lower, st.upper) if st else (result.rating, result.lower, result.upper)
    )
    rank, unrankable = (st.rank_ub, st.unrankable) if st else (result.rank_ub, result.unrankable)
    rows = [
        LeaderboardRow(
            rank[i],
            model,
            rating[i],
            lower[i],
            upper[i],
            result.votes[i],
            result.online_elo[i],
            result.preliminary[i],
            unrankable[i],
        )
        for i, model in enumerate(result.models)
    ]
    rows.sort(key=lambda r: (-(r.rating if not math.isnan(r.rating) else -math.inf), r.model))
    return rows
