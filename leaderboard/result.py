"""The leaderboard result as typed values, and its one JSON round trip (the stored snapshot, version 1).

:class:`LeaderboardResult` is what :func:`leaderboard.compute.compute_leaderboard` returns and what a
snapshot row stores (``to_json``/``from_json``); the row's ``params`` are
:class:`~leaderboard.params.SnapshotParams` (re-exported here with ``ComputeParams``). The JSON layout is
documented in docs/leaderboard.md ("Snapshot result"); snapshots written before these types existed have
the same layout and load unchanged. In memory, a missing per-model number is NaN and a missing pairwise
cell or coefficient bound is None; in JSON both are null.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import plotly.graph_objects as go

from leaderboard.charts import leaderboard_figures
from leaderboard.json_fields import Fields, json_number, json_number_map, json_numbers
from leaderboard.params import ComputeParams as ComputeParams  # re-exported: part of the result
from leaderboard.params import JSONDict
from leaderboard.params import SnapshotParams as SnapshotParams
from leaderboard.result_science import FragilitySummary as FragilitySummary  # re-exported
from leaderboard.result_science import TieModelSummary as TieModelSummary

RESULT_VERSION = 1


@dataclass(frozen=True)
class FitSummary:
    """How the full-data Bradley-Terry fit converged."""

    iterations: int
    grad_norm: float
    max_step: float
    ridge: float
    converged: bool

    def to_json(self) -> JSONDict:
        return {
            "iterations": self.iterations,
            "grad_norm": json_number(self.grad_norm),
            "max_step": json_number(self.max_step),
            "ridge": json_number(self.ridge),
            "converged": self.converged,
        }

    @classmethod
    def from_json(cls, f: Fields) -> FitSummary:
        return cls(
            f.integer("iterations"),
            f.number("grad_norm"),
            f.number("max_step"),
            f.number("ridge"),
            f.boolean("converged"),
        )


@dataclass(frozen=True)
class StyleFitSummary:
    """How the style-controlled fit converged."""

    iterations: int
    grad_norm: float
    ridge: float
    converged: bool

    def to_json(self) -> JSONDict:
        return {
            "iterations": self.iterations,
            "grad_norm": json_number(self.grad_norm),
            "ridge": json_number(self.ridge),
            "converged": self.converged,
        }

    @classmethod
    def from_json(cls, f: Fields) -> StyleFitSummary:
        return cls(f.integer("iterations"), f.number("grad_norm"), f.number("ridge"), f.boolean("converged"))


@dataclass(frozen=True)
class PairwiseResult:
    """Tables for the top models (``models``, in rating order); None where a cell has no value."""

    models: list[str]
    win_fraction: list[list[float | None]]  # A's share of decisive battles against B
    battle_count: list[list[int]]
    predicted: list[list[float | None]]  # predicted win rate of A over B
    average_win_rate: list[float | None]

    def to_json(self) -> JSONDict:
        return {
            "models": list(self.models),
            "win_fraction": [json_numbers(row) for row in self.win_fraction],
            "battle_count": [list(row) for row in self.battle_count],
            "predicted": [json_numbers(row) for row in self.predicted],
            "average_win_rate": json_numbers(self.average_win_rate),
        }

    @classmethod
    def from_json(cls, f: Fields) -> PairwiseResult:
        return cls(
            f.strings("models"),
            f.optional_number_rows("win_fraction"),
            f.integer_rows("battle_count"),
            f.optional_number_rows("predicted"),
            f.optional_numbers("average_win_rate"),
        )


@dataclass(frozen=True)
class StyleRatings:
    """Style control: coefficients (by feature) and style-adjusted ratings in the result's model order."""

    features: list[str]
    coefficients: dict[str, float]
    coef_lower: dict[str, float | None]  # None: the feature never varied (no interval)
    coef_upper: dict[str, float | None]
    ci: str
    rating: list[float]
    lower: list[float]
    upper: list[float]
    rank_ub: list[int]
    unrankable: list[bool]
    fit: StyleFitSummary
    # the votes separate the style model: its intervals were widened to the plain fit's (never narrower)
    floored: bool = False

    def to_json(self) -> JSONDict:
        extra: JSONDict = {"floored": True} if self.floored else {}  # older snapshots read unchanged
        return {
            **extra,
            "features": list(self.features),
            "coefficients": json_number_map(self.coefficients),
            "coef_lower": json_number_map(self.coef_lower),
            "coef_upper": json_number_map(self.coef_upper),
            "ci": self.ci,
            "rating": json_numbers(self.rating),
            "lower": json_numbers(self.lower),
            "upper": json_numbers(self.upper),
            "rank_ub": list(self.rank_ub),
            "unrankable": list(self.unrankable),
            "fit": self.fit.to_json(),
        }

    @classmethod
    def from_json(cls, f: Fields) -> StyleRatings:
        return cls(
            features=f.strings("features"),
            coefficients=f.number_map("coefficients"),
            coef_lower=f.optional_number_map("coef_lower"),
            coef_upper=f.optional_number_map("coef_upper"),
            ci=f.string("ci"),
            rating=f.numbers("rating"),
            lower=f.numbers("lower"),
            upper=f.numbers("upper"),
            rank_ub=f.integers("rank_ub"),
            unrankable=f.booleans("unrankable"),
            fit=StyleFitSummary.from_json(f.obj("fit")),
            floored=f.boolean("floored", False),
        )


@dataclass
class LeaderboardResult:
    """Per-model lists are parallel and sorted by rating, descending."""

    models: list[str]
    rating: list[float]
    lower: list[float]
    upper: list[float]
    rank_ub: list[int]
    votes: list[int]
    online_elo: list[float]  # NaN when the data had no battle sequence
    unrankable: list[bool]
    preliminary: list[bool]
    params: ComputeParams
    total_battles: int
    ties: int
    fit: FitSummary
    pairwise: PairwiseResult
    style: StyleRatings | None = None
    timings: dict[str, float] = field(default_factory=dict)
    version: int = RESULT_VERSION
    # Added later (older snapshots lack the keys and read as these defaults):
    weighted: bool = False  # the fit used the votes' sampling weights (inverse propensity)
    clusters: int | None = None  # number of clusters of a cluster-* interval method
    tie_model: TieModelSummary | None = None  # --ties davidson
    fragility: FragilitySummary | None = None

    def to_json(self) -> JSONDict:
        """The stored form: plain JSON types, NaN as null, keys in field order."""
        return {
            "models": list(self.models),
            "rating": json_numbers(self.rating),
            "lower": json_numbers(self.lower),
            "upper": json_numbers(self.upper),
            "rank_ub": list(self.rank_ub),
            "votes": list(self.votes),
            "online_elo": json_numbers(self.online_elo),
            "unrankable": list(self.unrankable),
            "preliminary": list(self.preliminary),
            "params": self.params.to_json(),
            "total_battles": self.total_battles,
            "ties": self.ties,
            "fit": self.fit.to_json(),
            "pairwise": self.pairwise.to_json(),
            "style": None if self.style is None else self.style.to_json(),
            "timings": json_number_map(self.timings),
            "version": self.version,
            **self._added_json(),
        }

    def _added_json(self) -> JSONDict:
        """Keys added after the first snapshots, written only when set (older results write back as
        stored)."""
        out: JSONDict = {}
        if self.weighted:
            out["weighted"] = True
        if self.clusters is not None:
            out["clusters"] = self.clusters
        if self.tie_model is not None:
            out["tie_model"] = self.tie_model.to_json()
        if self.fragility is not None:
            out["fragility"] = self.fragility.to_json()
        return out

    @classmethod
    def from_json(cls, data: object) -> LeaderboardResult:
        """Read a stored result; ``ValueError`` names the first key that is missing or of the wrong type."""
        f = Fields(data, "result")
        version = f.optional_integer("version")
        if version != RESULT_VERSION:
            raise ValueError(f"unsupported leaderboard result version {version!r}")
        style = f.optional_obj("style")
        tie_model, fragility = f.optional_obj("tie_model"), f.optional_obj("fragility")
        result = cls(
            models=f.strings("models"),
            rating=f.numbers("rating"),
            lower=f.numbers("lower"),
            upper=f.numbers("upper"),
            rank_ub=f.integers("rank_ub"),
            votes=f.integers("votes"),
            online_elo=f.numbers("online_elo"),
            unrankable=f.booleans("unrankable"),
            preliminary=f.booleans("preliminary"),
            params=ComputeParams.from_json(f.obj("params")),
            total_battles=f.integer("total_battles"),
            ties=f.integer("ties"),
            fit=FitSummary.from_json(f.obj("fit")),
            pairwise=PairwiseResult.from_json(f.obj("pairwise")),
            style=None if style is None else StyleRatings.from_json(style),
            timings=f.number_map("timings") if "timings" in f else {},
            version=version,
            weighted=f.boolean("weighted", False),
            clusters=f.optional_integer("clusters"),
            tie_model=None if tie_model is None else TieModelSummary.from_json(tie_model),
            fragility=None if fragility is None else FragilitySummary.from_json(fragility),
        )
        result.check_lengths()
        return result

    def figures(self, *, style: bool = False) -> dict[str, go.Figure]:
        """Plotly figures: "ratings", "win_fraction", "battle_count", "average_win_rate"."""
        return leaderboard_figures(self, style=style)

    def check_lengths(self) -> None:
        """Every per-model list has one entry per model (a stored result that does not is refused)."""
        n = len(self.models)
        lists: dict[str, list[object]] = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("models", "timings") and isinstance(getattr(self, f.name), list)
        }
        if self.style is not None:
            for name in ("rating", "lower", "upper", "rank_ub", "unrankable"):
                lists[f"style.{name}"] = getattr(self.style, name)
        wrong = [name for name, values in lists.items() if len(values) != n]
        if wrong:
            raise ValueError(f"result: {', '.join(wrong)} do not have one entry per model ({n})")
