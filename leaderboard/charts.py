"""Plotly figures built from leaderboard results (plain lists, so they work on stored snapshots)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import plotly.graph_objects as go

if TYPE_CHECKING:  # the result module imports this one for LeaderboardResult.figures
    from leaderboard.result import LeaderboardResult

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


def average_win_rate_figure(models: Sequence[str], values: Sequence[float | None]) -> go.Figure:
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


#: The figures of one leaderboard, by name (the Leaderboard tab shows them in this order).
FIGURE_NAMES = ("ratings", "win_fraction", "battle_count", "average_win_rate")


def leaderboard_figures(result: LeaderboardResult, *, style: bool = False) -> dict[str, go.Figure]:
    """The four figures of :data:`FIGURE_NAMES`; with ``style`` (and a style fit) the ratings figure shows
    the style-controlled ratings, sorted by them."""
    if style and result.style is not None:
        st = result.style
        order = sorted(range(len(st.rating)), key=lambda i: -st.rating[i])
        ratings = ratings_figure(
            [result.models[i] for i in order],
            [st.rating[i] for i in order],
            [st.lower[i] for i in order],
            [st.upper[i] for i in order],
            title="Style-controlled rating with 95% confidence interval",
        )
    else:
        ratings = ratings_figure(result.models, result.rating, result.lower, result.upper)
    pw = result.pairwise
    return {
        "ratings": ratings,
        "win_fraction": heatmap_figure(
            pw.models,
            pw.win_fraction,
            fmt=".2f",
            zmax=1,
            title="Fraction of model A wins against model B (ties left out)",
        ),
        "battle_count": heatmap_figure(
            pw.models, pw.battle_count, fmt="d", title="Battle count for each pair of models"
        ),
        "average_win_rate": average_win_rate_figure(pw.models, pw.average_win_rate),
    }


def rating_history_figure(series: Sequence[tuple[str, Sequence[str], Sequence[float]]]) -> go.Figure:
    """One line per model: (model, ISO times, ratings), the rating of each stored snapshot over time."""
    fig = go.Figure(
        [
            go.Scatter(
                x=list(times),
                y=list(ratings),
                mode="lines+markers",
                name=model,
                hovertemplate="%{x}: %{y:.0f}",
            )
            for model, times, ratings in series
        ]
    )
    fig.update_layout(
        title="Arena score over time",
        xaxis_title="snapshot time (UTC)",
        yaxis_title="rating",
        height=450,
        legend={"orientation": "h", "y": -0.25},
        margin={"b": 120},
    )
    return fig
