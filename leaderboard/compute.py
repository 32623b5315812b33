"""The whole leaderboard in one call: BT point fit, intervals, rank (UB), online Elo, pairwise tables and
optional style control, returned as a :class:`LeaderboardResult` that round-trips through JSON."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go
from threadpoolctl import threadpool_limits

from leaderboard import charts
from leaderboard.bootstrap import bootstrap_thetas, identify_rounds, percentile_intervals
from leaderboard.bt import Identification, fit_bt
from leaderboard.data import FloatArray, IntArray, PairCounts
from leaderboard.elo import online_elo
from leaderboard.pairwise import pairwise_tables
from leaderboard.ranking import rank_ub
from leaderboard.sandwich import sandwich_intervals
from leaderboard.style import STYLE_FEATURES, style_control

RESULT_VERSION = 1
PAIRWISE_LIMIT = 50  # pairwise tables are stored for the top models only (keeps snapshots small)
CI_METHODS = ("bootstrap", "sandwich")

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True)
class ComputeParams:
    rounds: int = 1000
    seed: int | None = 0
    ci: str = "bootstrap"  # or "sandwich"
    anchor_model: str | None = None
    anchor_rating: float = 1000.0  # mean rating when anchor_model is None
    style_control: bool = False
    style_ci: str = "sandwich"  # or "bootstrap"
    style_rounds: int = 100
    min_votes: int = 0
    k: float = 4.0
    base: float = 10.0
    scale: float = 400.0
    initial: float = 1000.0
    threads: int = 2

    def __post_init__(self) -> None:
        if self.ci not in CI_METHODS:
            raise ValueError(f"unknown interval method {self.ci!r}: use bootstrap or sandwich")
        if self.style_ci not in CI_METHODS:
            raise ValueError(f"unknown style interval method {self.style_ci!r}: use sandwich or bootstrap")
        if self.rounds < 0 or self.style_rounds < 0:
            raise ValueError("rounds must be >= 0")
        if self.ci == "bootstrap" and self.rounds == 0:
            raise ValueError("bootstrap intervals need rounds >= 1 (or use --ci sandwich)")
        if not (self.base > 1 and self.scale > 0 and self.k >= 0):
            raise ValueError("need base > 1, scale > 0 and k >= 0")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StyleRows:
    """Per-battle rows for style control; features are (n, 4): tokens, headers, lists, bold."""

    model_a: IntArray
    model_b: IntArray
    outcome: IntArray
    features_a: FloatArray
    features_b: FloatArray
    counts: FloatArray | None = None


@dataclass(frozen=True)
class BattleData:
    models: list[str]
    pairs: PairCounts
    sequence: tuple[IntArray, IntArray, IntArray] | None = None  # time-ordered battles for online Elo
    style: StyleRows | None = None


@dataclass
class LeaderboardResult:
    """Rows sorted by rating, descending. NaN becomes null in JSON."""

    models: list[str]
    rating: list[float]
    lower: list[float]
    upper: list[float]
    rank_ub: list[int]
    votes: list[int]
    online_elo: list[float]
    unrankable: list[bool]
    preliminary: list[bool]
    params: dict[str, Any]
    total_battles: int
    ties: int
    fit: dict[str, Any]
    pairwise: dict[str, Any]
    style: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    version: int = RESULT_VERSION

    def to_json(self) -> dict[str, Any]:
        return _clean(asdict(self))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LeaderboardResult:
        if data.get("version") != RESULT_VERSION:
            raise ValueError(f"unsupported leaderboard result version {data.get('version')!r}")
        d = dict(data)
        for key in ("rating", "lower", "upper", "online_elo"):
            d[key] = [math.nan if v is None else float(v) for v in d[key]]
        names = {f.name for f in cls.__dataclass_fields__.values()}
        return cls(**{k: v for k, v in d.items() if k in names})

    def figures(self, *, style: bool = False) -> dict[str, go.Figure]:
        """Plotly figures: "ratings", "win_fraction", "battle_count", "average_win_rate"."""
        if style and self.style:
            s = self.style
            order = sorted(range(len(s["rating"])), key=lambda i: -num_or_nan(s["rating"][i]))
            ratings = charts.ratings_figure(
                [self.models[i] for i in order],
                [num_or_nan(s["rating"][i]) for i in order],
                [num_or_nan(s["lower"][i]) for i in order],
                [num_or_nan(s["upper"][i]) for i in order],
                title="Style-controlled rating with 95% confidence interval",
            )
        else:
            ratings = charts.ratings_figure(self.models, self.rating, self.lower, self.upper)
        pw = self.pairwise
        return {
            "ratings": ratings,
            "win_fraction": charts.heatmap_figure(
                pw["models"],
                pw["win_fraction"],
                fmt=".2f",
                zmax=1,
                title="Fraction of model A wins against model B (ties left out)",
            ),
            "battle_count": charts.heatmap_figure(
                pw["models"], pw["battle_count"], fmt="d", title="Battle count for each pair of models"
            ),
            "average_win_rate": charts.average_win_rate_figure(pw["models"], pw["average_win_rate"]),
        }


def num_or_nan(v: Any) -> float:
    """A number read back from snapshot JSON (where NaN is stored as null)."""
    return math.nan if v is None else float(v)


def _clean(obj: Any) -> Any:
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _anchor_index(models: Sequence[str], params: ComputeParams) -> int | None:
    if params.anchor_model is None:
        return None
    try:
        return list(models).index(params.anchor_model)
    except ValueError:
        raise ValueError(
            f"anchor model {params.anchor_model!r} has no counted battles in this data"
        ) from None


def compute_leaderboard(
    data: BattleData, params: ComputeParams, *, progress: Progress | None = None
) -> LeaderboardResult:
    """Everything the leaderboard shows. Online Elo runs while bootstrap rounds run on worker threads."""
    timings: dict[str, float] = {}
    pc, models, m = data.pairs, data.models, len(data.models)
    if pc.n_models != m:
        raise ValueError("pair counts and model list disagree on the number of models")
    anchor = _anchor_index(models, params)
    rng = np.random.default_rng(params.seed)
    t0 = time.perf_counter()
    with threadpool_limits(1, user_api="blas"):
        fit = fit_bt(pc)
    timings["fit_s"] = time.perf_counter() - t0
    ident = Identification.make(
        fit.rankable, base=params.base, scale=params.scale, value=params.anchor_rating, anchor=anchor
    )
    rating = ident.ratings(fit.theta)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(1) as pool:
        boot = None
        if params.ci == "bootstrap":
            cb = (lambda d, t: progress("bootstrap", d, t)) if progress else None
            boot = pool.submit(
                bootstrap_thetas, pc, fit, rng, rounds=params.rounds, threads=params.threads, progress=cb
            )
        t1 = time.perf_counter()
        if data.sequence is not None and m:
            elo = online_elo(
                *data.sequence, m, k=params.k, base=params.base, scale=params.scale, initial=params.initial
            )
        else:
            elo = np.full(m, np.nan)
        timings["online_elo_s"] = time.perf_counter() - t1
        if boot is not None:
            lower, upper = percentile_intervals(identify_rounds(ident, boot.result()))
        else:
            with threadpool_limits(1, user_api="blas"):
                lower, upper = sandwich_intervals(pc, fit, ident)
    timings["intervals_s"] = time.perf_counter() - t0

    votes = np.rint(pc.votes_per_model()).astype(np.int64)
    ranks = rank_ub(lower, upper)
    order = np.lexsort((np.array(models, dtype=object).astype(str), -rating)) if m else np.zeros(0, np.int64)
    top = order[:PAIRWISE_LIMIT]
    pw = pairwise_tables(pc, rating, order=top, base=params.base, scale=params.scale)

    style_json = None
    if params.style_control and data.style is not None and len(data.style.model_a):
        t0 = time.perf_counter()
        s = data.style
        with threadpool_limits(1, user_api="blas"):
            res = style_control(
                s.model_a,
                s.model_b,
                s.outcome,
                m,
                s.features_a,
                s.features_b,
                lambda rk: Identification.make(
                    rk, base=params.base, scale=params.scale, value=params.anchor_rating, anchor=anchor
                ),
                counts=s.counts,
                theta0=fit.theta,
                ci=params.style_ci,
                rounds=params.style_rounds,
                rng=rng,
            )
        style_json = {
            "features": list(STYLE_FEATURES),
            "coefficients": res.coefficients,
            "coef_lower": res.coef_lower,
            "coef_upper": res.coef_upper,
            "ci": res.ci,
            "rating": res.ratings[order].tolist(),
            "lower": res.lower[order].tolist(),
            "upper": res.upper[order].tolist(),
            "rank_ub": rank_ub(res.lower, res.upper)[order].tolist(),
            "unrankable": (~res.fit.rankable[order]).tolist(),
            "fit": {
                "iterations": res.fit.iterations,
                "grad_norm": res.fit.grad_norm,
                "ridge": res.fit.ridge,
                "converged": res.fit.converged,
            },
        }
        timings["style_s"] = time.perf_counter() - t0

    top_names = [models[i] for i in top]
    return LeaderboardResult(
        models=[models[i] for i in order],
        rating=rating[order].tolist(),
        lower=np.asarray(lower)[order].tolist(),
        upper=np.asarray(upper)[order].tolist(),
        rank_ub=ranks[order].tolist(),
        votes=votes[order].tolist(),
        online_elo=elo[order].tolist(),
        unrankable=(~fit.rankable[order]).tolist(),
        preliminary=(votes[order] < params.min_votes).tolist(),
        params=params.to_json(),
        total_battles=int(round(pc.n_battles)),
        ties=int(round(float(pc.ties.sum()))),
        fit={
            "iterations": fit.iterations,
            "grad_norm": fit.grad_norm,
            "max_step": fit.max_step,
            "ridge": fit.ridge,
            "converged": fit.converged,
        },
        pairwise=_clean(
            {
                "models": top_names,
                "win_fraction": pw.win_fraction.tolist(),
                "battle_count": pw.battle_count.astype(int).tolist(),
                "predicted": pw.predicted.tolist(),
                "average_win_rate": pw.average_win_rate.tolist(),
            }
        ),
        style=_clean(style_json),
        timings=timings,
    )
