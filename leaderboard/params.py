"""The parameters of a leaderboard computation (``ComputeParams``) and of a stored snapshot
(``SnapshotParams``), with their JSON round trip (the snapshot row's ``params`` and the result's)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal, TypeVar, cast

from leaderboard.json_fields import Fields

CI_METHODS = ("bootstrap", "sandwich", "cluster-bootstrap", "cluster-sandwich")
CIMethod = Literal["bootstrap", "sandwich", "cluster-bootstrap", "cluster-sandwich"]
STYLE_CI_METHODS = ("bootstrap", "sandwich")
StyleCIMethod = Literal["bootstrap", "sandwich"]
CLUSTER_KINDS = ("judge", "conversation")  # who may share errors: the voter, or the prompt
ClusterKind = Literal["judge", "conversation"]
TIE_MODELS = ("half", "davidson")  # ties as half a win (FastChat, the default) or the Davidson model
TieModel = Literal["half", "davidson"]
# inverse-propensity sampling weights in the fit: when some differ from 1 / always / never
WEIGHT_MODES = ("auto", "on", "off")
WeightMode = Literal["auto", "on", "off"]
JSONDict = dict[str, object]


@dataclass(frozen=True)
class ComputeParams:
    rounds: int = 1000
    seed: int | None = 0
    ci: CIMethod = "bootstrap"
    cluster: ClusterKind | None = None  # what a cluster is, for the cluster-* interval methods
    ties: TieModel = "half"
    weights: WeightMode = "auto"
    fragility: bool = False  # compute "the #1 spot changes if N of M votes are removed" (recompute: on)
    anchor_model: str | None = None
    anchor_rating: float = 1000.0  # mean rating when anchor_model is None
    style_control: bool = False
    style_ci: StyleCIMethod = "sandwich"
    style_rounds: int = 100
    min_votes: int = 0
    k: float = 4.0
    base: float = 10.0
    scale: float = 400.0
    initial: float = 1000.0
    threads: int = 2

    def __post_init__(self) -> None:
        if self.ci not in CI_METHODS:
            raise ValueError(f"unknown interval method {self.ci!r}: use {', '.join(CI_METHODS)}")
        if self.style_ci not in STYLE_CI_METHODS:
            raise ValueError(f"unknown style interval method {self.style_ci!r}: use sandwich or bootstrap")
        if self.rounds < 0 or self.style_rounds < 0:
            raise ValueError("rounds must be >= 0")
        if self.ci in ("bootstrap", "cluster-bootstrap") and self.rounds == 0:
            raise ValueError(f"{self.ci} intervals need rounds >= 1 (or use --ci sandwich)")
        self._check_science()
        if not (self.base > 1 and self.scale > 0 and self.k >= 0):
            raise ValueError("need base > 1, scale > 0 and k >= 0")

    def _check_science(self) -> None:
        if self.cluster is not None and self.cluster not in CLUSTER_KINDS:
            raise ValueError(f"unknown cluster {self.cluster!r}: use judge or conversation")
        if self.ci.startswith("cluster-") and self.cluster is None:
            raise ValueError(f"--ci {self.ci} needs --cluster judge|conversation")
        if self.cluster is not None and not self.ci.startswith("cluster-"):
            raise ValueError("--cluster applies to --ci cluster-bootstrap or cluster-sandwich only")
        if self.ties not in TIE_MODELS:
            raise ValueError(f"unknown tie model {self.ties!r}: use half or davidson")
        if self.ties == "davidson" and self.ci.startswith("cluster-"):
            raise ValueError("--ties davidson supports --ci bootstrap or sandwich (no cluster intervals)")
        if self.weights not in WEIGHT_MODES:
            raise ValueError(f"unknown weights mode {self.weights!r}: use auto, on or off")

    @property
    def needs_clusters(self) -> bool:
        return self.ci.startswith("cluster-")

    def to_json(self) -> JSONDict:
        """Every field; the ones added later only when they differ from what a snapshot without them
        reads back as (so an older snapshot writes back exactly as stored)."""
        return {k: v for k, v in asdict(self).items() if k not in _ADDED or v != _ADDED[k]}

    @classmethod
    def from_json(cls, data: Fields) -> ComputeParams:
        """Every field, defaulting those an older snapshot may lack; unknown keys are ignored."""
        d = cls()
        return cls(
            rounds=data.integer("rounds", d.rounds),
            seed=data.optional_integer("seed", d.seed),
            ci=_choice(data, "ci", d.ci, CI_METHODS, "interval method"),
            cluster=_optional_choice(data, "cluster", CLUSTER_KINDS),
            ties=_choice(data, "ties", d.ties, TIE_MODELS, "tie model"),
            weights=_choice(data, "weights", d.weights, WEIGHT_MODES, "weights mode"),
            fragility=data.boolean("fragility", d.fragility),
            anchor_model=data.optional_string("anchor_model"),
            anchor_rating=data.number("anchor_rating", d.anchor_rating),
            style_control=data.boolean("style_control", d.style_control),
            style_ci=_choice(data, "style_ci", d.style_ci, STYLE_CI_METHODS, "interval method"),
            style_rounds=data.integer("style_rounds", d.style_rounds),
            min_votes=data.integer("min_votes", d.min_votes),
            k=data.number("k", d.k),
            base=data.number("base", d.base),
            scale=data.number("scale", d.scale),
            initial=data.number("initial", d.initial),
            threads=data.integer("threads", d.threads),
        )


# Fields added after the first snapshots, with the value a snapshot that lacks them reads back as.
_ADDED: dict[str, object] = {"cluster": None, "ties": "half", "weights": "auto", "fragility": False}

_Choice = TypeVar("_Choice", bound=str)


def _choice(data: Fields, key: str, default: _Choice, allowed: tuple[str, ...], what: str) -> _Choice:
    value = data.string(key, default)
    if value not in allowed:
        raise ValueError(f"{data.where}.{key}: unknown {what} {value!r} (expected {', '.join(allowed)})")
    return cast(_Choice, value)


def _optional_choice(data: Fields, key: str, allowed: tuple[str, ...]) -> ClusterKind | None:
    value = data.optional_string(key)
    if value is not None and value not in allowed:
        raise ValueError(f"{data.where}.{key}: unknown value {value!r} (expected {', '.join(allowed)})")
    return cast("ClusterKind | None", value)


@dataclass(frozen=True)
class SnapshotParams:
    """A snapshot row's ``params``: what reproduces it (``arena leaderboard recompute`` with these)."""

    category: str
    online_elo: bool
    compute: ComputeParams

    def to_json(self) -> JSONDict:
        return {"category": self.category, "online_elo": self.online_elo, **self.compute.to_json()}

    @classmethod
    def from_json(cls, data: object) -> SnapshotParams:
        f = Fields(data, "params")
        return cls(f.string("category"), f.boolean("online_elo", True), ComputeParams.from_json(f))
