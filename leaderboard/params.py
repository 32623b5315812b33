"""The parameters of a leaderboard computation (``ComputeParams``) and of a stored snapshot
(``SnapshotParams``), with their JSON round trip (the snapshot row's ``params`` and the result's)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal, cast

from leaderboard.json_fields import Fields

CI_METHODS = ("bootstrap", "sandwich")
CIMethod = Literal["bootstrap", "sandwich"]
JSONDict = dict[str, object]


@dataclass(frozen=True)
class ComputeParams:
    rounds: int = 1000
    seed: int | None = 0
    ci: CIMethod = "bootstrap"
    anchor_model: str | None = None
    anchor_rating: float = 1000.0  # mean rating when anchor_model is None
    style_control: bool = False
    style_ci: CIMethod = "sandwich"
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

    def to_json(self) -> JSONDict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Fields) -> ComputeParams:
        """Every field, defaulting those an older snapshot may lack; unknown keys are ignored."""
        d = cls()
        return cls(
            rounds=data.integer("rounds", d.rounds),
            seed=data.optional_integer("seed", d.seed),
            ci=_ci(data, "ci", d.ci),
            anchor_model=data.optional_string("anchor_model"),
            anchor_rating=data.number("anchor_rating", d.anchor_rating),
            style_control=data.boolean("style_control", d.style_control),
            style_ci=_ci(data, "style_ci", d.style_ci),
            style_rounds=data.integer("style_rounds", d.style_rounds),
            min_votes=data.integer("min_votes", d.min_votes),
            k=data.number("k", d.k),
            base=data.number("base", d.base),
            scale=data.number("scale", d.scale),
            initial=data.number("initial", d.initial),
            threads=data.integer("threads", d.threads),
        )


def _ci(data: Fields, key: str, default: CIMethod) -> CIMethod:
    value = data.string(key, default)
    if value not in CI_METHODS:
        raise ValueError(f"{data.where}.{key}: unknown interval method {value!r}")
    return cast(CIMethod, value)


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
