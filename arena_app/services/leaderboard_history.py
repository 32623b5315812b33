"""Rating over time for the Leaderboard tab: each model's (plain) rating in the stored snapshots of a
category, the top models by their rating in the newest one, as one plotly figure.

The newest :data:`MAX_SNAPSHOTS` snapshots are read (their ids first, which is cheap); the history is
built once per set of snapshot ids and kept in a :class:`~arena_app.services.view_cache.ViewCache`, so a
page load only asks which snapshots exist. Errors are those of :mod:`arena_app.services.errors`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from arena_app.services.errors import storage_errors
from arena_app.services.leaderboard_view import StoredSnapshot, read_snapshot
from arena_app.services.leaderboard_votes import checked_category
from arena_app.services.view_cache import ViewCache
from arena_app.storage import head_to_head_queries as hq
from arena_app.storage.db import session_scope
from leaderboard.charts import rating_history_figure

MAX_SNAPSHOTS = 200  # the newest ones; older points add little to the chart and cost a full result read
TOP_MODELS = 10


@dataclass(frozen=True)
class RatingSeries:
    model: str
    times: list[datetime]  # the snapshots' times, oldest first (only those that rated the model)
    ratings: list[float]


@dataclass(frozen=True)
class RatingHistory:
    category: str
    snapshots: int  # snapshots read
    series: list[RatingSeries]  # best (in the newest snapshot) first
    figure: str | None  # plotly JSON, serialised once (None: no snapshot)


def rating_history(
    session_factory: sessionmaker[Session],
    category: str,
    *,
    top: int = TOP_MODELS,
    cache: ViewCache[RatingHistory] | None = None,
) -> RatingHistory:
    """The top ``top`` models' ratings over the category's stored snapshots (see the module docstring)."""
    checked_category(category)
    with storage_errors(), session_scope(session_factory) as s:
        ids = hq.newest_snapshot_ids(s, category, MAX_SNAPSHOTS)
        key = ("history", category, top, tuple(ids))
        built = None if cache is None else cache.get(key)
        if built is not None:
            return built
        records = hq.snapshots_by_ids(s, ids)
    history = _build(category, [read_snapshot(r) for r in records], top)
    if cache is not None:
        cache.put(key, history)
    return history


def _build(category: str, snaps: list[StoredSnapshot], top: int) -> RatingHistory:
    """Series of the newest snapshot's ``top`` rated models, over ``snaps`` (oldest first)."""
    if not snaps:
        return RatingHistory(category, 0, [], None)
    newest = snaps[-1].result
    rated = [(r, m) for m, r in zip(newest.models, newest.rating, strict=True) if math.isfinite(r)]
    chosen = [m for _r, m in sorted(rated, key=lambda x: (-x[0], x[1]))[:top]]
    points: dict[str, tuple[list[datetime], list[float]]] = {m: ([], []) for m in chosen}
    for snap in snaps:
        for model, rating in zip(snap.result.models, snap.result.rating, strict=True):
            if model in points and math.isfinite(rating):
                points[model][0].append(snap.created_at)
                points[model][1].append(float(rating))
    series = [RatingSeries(m, *points[m]) for m in chosen]
    fig = rating_history_figure([(x.model, [t.isoformat() for t in x.times], x.ratings) for x in series])
    return RatingHistory(category, len(snaps), series, fig.to_json())
