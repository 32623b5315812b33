"""Parts of a stored result added with the science options: the Davidson tie parameter and the ranking
fragility line (re-exported by :mod:`leaderboard.result`, whose JSON writes them only when set)."""

from __future__ import annotations

from dataclasses import dataclass

from leaderboard.json_fields import Fields, json_number
from leaderboard.params import JSONDict


@dataclass(frozen=True)
class TieModelSummary:
    """The Davidson tie parameter (``--ties davidson``): ``P(tie) = nu / (e^a + e^-a + nu)``; ``nu_tie`` and
    ``nu_bothbad`` split it by the share of "both bad" among the ties (see docs/leaderboard.md)."""

    model: str
    nu: float
    nu_lower: float | None  # 95% interval (sandwich); None when nu is at its boundary (no ties)
    nu_upper: float | None
    nu_tie: float
    nu_bothbad: float
    tie_probability_equal: float  # P(tie) between two equally strong models: nu / (2 + nu)

    def to_json(self) -> JSONDict:
        return {
            "model": self.model,
            "nu": json_number(self.nu),
            "nu_lower": json_number(self.nu_lower),
            "nu_upper": json_number(self.nu_upper),
            "nu_tie": json_number(self.nu_tie),
            "nu_bothbad": json_number(self.nu_bothbad),
            "tie_probability_equal": json_number(self.tie_probability_equal),
        }

    @classmethod
    def from_json(cls, f: Fields) -> TieModelSummary:
        return cls(
            f.string("model"),
            f.number("nu"),
            f.optional_number("nu_lower"),
            f.optional_number("nu_upper"),
            f.number("nu_tie"),
            f.number("nu_bothbad"),
            f.number("tie_probability_equal"),
        )


@dataclass(frozen=True)
class FragilitySummary:
    """Ranking fragility computed with the snapshot: the smallest verified set of counted votes this search
    found whose removal changes the #1 model (``leaderboard.flip_search.find_flip``); ``line`` is the
    leaderboard's one-liner."""

    target: str  # "top1"
    found: bool
    n_removed: int  # 0 when not found
    n_total: int
    line: str

    @property
    def share(self) -> float:
        return self.n_removed / self.n_total if self.n_total else 0.0

    def to_json(self) -> JSONDict:
        return {
            "target": self.target,
            "found": self.found,
            "n_removed": self.n_removed,
            "n_total": self.n_total,
            "line": self.line,
        }

    @classmethod
    def from_json(cls, f: Fields) -> FragilitySummary:
        found, removed, total = f.boolean("found"), f.integer("n_removed"), f.integer("n_total")
        return cls(f.string("target"), found, removed, total, f.string("line"))
