"""Plotly figures built from leaderboard results (plain lists, so they work on stored snapshots)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import plotly.graph_objects as go

MAX_RATING_POINTS = 60
MAX_HEATMAP_MODELS = 30


def _nan_to_none(values: Sequence[float | None]) -> list[float | None]:
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values]


def ratings_figure(
    models: Sequence[str],
    rating: Sequence[float],
    lower: Sequence[float],
    upper: Sequence[float],
    *,
    title: str = "Rating with 95% confidence interval",
) -> go.Figure:
    """Models sorted by rating (as given), point = rating, error bars to the interval bounds."""
    n = min(len(models), MAX_RATING_POINTS)
    r = [float(x) for x in rating[:n]]
    plus = _nan_to_none([u - x for u, x in zip(upper[:n], r, strict=True)])
    minus = _nan_to_none([x - lo for lo, x in zip(lower[:n], r, strict=True)])
    fig = go.Figure(
        go.Scatter(
            x=list(models[:n]),
            y=r,
            mode="markers",
            error_y={"type": "data", "symmetric": False, "array": plus, "arrayminus": minus},
            hovertemplate="%{x}: %{y:.1f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="model",
        yaxis_title="rating",
        xaxis_tickangle=-45,
        height=500,
        margin={"b": 160},
    )
    return fig


def heatmap_figure(
    models: Sequence[str],
    matrix: Sequence[Sequence[float | None]],
    *,
    title: str,
    fmt: str,
    zmax: float | None = None,
) -> go.Figure:
    """Row model vs column model; cell text formatted with ``fmt`` (a d3 format like ".2f")."""
    n = min(len(models), MAX_HEATMAP_MODELS)
    names = list(models[:n])
    z = [_nan_to_none(list(row[:n])) for row in matrix[:n]]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=names,
            y=names,
            texttemplate="%{z:" + fmt + "}",
            colorscale="RdBu",
            zmin=0,
            zmax=zmax,
            hovertemplate="%{y} vs %{x}: %{z:" + fmt + "}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="model B",
        yaxis_title="model A",
        yaxis_autorange="reversed",
        xaxis_side="top",
        height=max(400, 28 * n + 200),
    )
    return fig


def average_win_rate_figure(models: Sequence[str], values: Sequence[float]) -> go.Figure:
    n = min(len(models), MAX_RATING_POINTS)
    fig = go.Figure(
        go.Bar(
            x=list(models[:n]),
            y=_nan_to_none(list(values[:n])),
            texttemplate="%{y:.2f}",
            hovertemplate="%{x}: %{y:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Average win rate against all other models (uniform opponent, no ties)",
        xaxis_title="model",
        yaxis_title="average win rate",
        xaxis_tickangle=-45,
        height=450,
        margin={"b": 160},
    )
    return fig
