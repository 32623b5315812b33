"""``arena leaderboard influence``: how few counted votes change the ranking, from a battles file or from the
database's counted votes (see docs/leaderboard.md, "Ranking fragility").

The search is :func:`leaderboard.flip_search.find_flip` (influence-ranked candidates, every set verified by
an exact refit) on the Bradley-Terry fit with ties as half, unweighted: the published convention. From the
database the set is mapped back to vote ids (the earliest votes of each removed cell,
:func:`leaderboard.fragility.select_votes_by_cell`): excluding exactly those votes and recomputing changes
the ranking as reported.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from arena_app.files.battle_files import read_battles
from arena_app.files.output_files import atomic_text_file, check_output_path
from arena_app.services.errors import storage_errors
from arena_app.services.leaderboard_votes import InvalidLeaderboardRequest, checked_category, vote_selection
from arena_app.storage.db import session_scope
from arena_app.storage.vote_details import counted_vote_details
from leaderboard.data import IntArray, aggregate
from leaderboard.flip_search import find_flip
from leaderboard.fragility import FragilityResult, Target, fragility_line, select_votes_by_cell
from leaderboard.influence import CELL_OUTCOMES

_TOP = re.compile(r"top([1-9][0-9]*)")


@dataclass(frozen=True)
class TargetSpec:
    """``top1`` (the #1 model), ``topK`` (the ordered top K) or ``pair A,B`` (the order of two models),
    parsed before any data is read; :meth:`resolve` checks model names against the data."""

    kind: str  # "top" or "pair"
    k: int = 1
    names: tuple[str, str] | None = None

    @classmethod
    def parse(cls, tokens: Sequence[str]) -> TargetSpec:
        if not tokens:
            return cls("top")
        head, rest = tokens[0], list(tokens[1:])
        top = _TOP.fullmatch(head)
        if top and not rest:
            return cls("top", int(top.group(1)))
        if head == "pair" and len(rest) == 1:
            names = [n.strip() for n in rest[0].split(",")]
            if len(names) == 2 and all(names) and names[0] != names[1]:
                return cls("pair", names=(names[0], names[1]))
        raise InvalidLeaderboardRequest(
            f"--target {' '.join(tokens)!r}: expected top1, topK (e.g. top5) or pair MODEL_A,MODEL_B "
            "(two different models; put FILE before --target)"
        )

    def text(self) -> str:
        return f"pair {self.names[0]},{self.names[1]}" if self.names else f"top{self.k}"

    def resolve(self, models: list[str]) -> Target:
        if self.names is None:
            return Target.top(self.k)
        missing = [n for n in self.names if n not in models]
        if missing:
            raise InvalidLeaderboardRequest(
                f"--target pair: no counted votes for {', '.join(map(repr, missing))} "
                f"(models: {', '.join(models[:20])}{', ...' if len(models) > 20 else ''})"
            )
        return Target.pair(models.index(self.names[0]), models.index(self.names[1]))


@dataclass(frozen=True)
class InfluenceGroup:
    """Removed votes of one pair and outcome (``winner``: model_a, model_b or tie, either kind)."""

    model_a: str
    model_b: str
    winner: str
    count: int
    vote_ids: tuple[int, ...] | None  # from the database; None for a file


@dataclass(frozen=True)
class InfluenceOutcome:
    source: str
    target: str
    models: list[str]
    result: FragilityResult
    groups: list[InfluenceGroup]
    line: str
    read_seconds: float
    search_seconds: float

    @property
    def vote_ids(self) -> list[int] | None:
        if any(g.vote_ids is None for g in self.groups):
            return None
        return sorted(v for g in self.groups for v in g.vote_ids or ())

    def to_json(self) -> dict[str, object]:
        groups: list[dict[str, object]] = []
        for g in self.groups:
            one: dict[str, object] = {
                "model_a": g.model_a,
                "model_b": g.model_b,
                "winner": g.winner,
                "count": g.count,
            }
            if g.vote_ids is not None:
                one["vote_ids"] = list(g.vote_ids)
            groups.append(one)
        out: dict[str, object] = {
            "source": self.source,
            "target": self.target,
            "found": self.result.found,
            "n_removed": self.result.n_removed,
            "n_total": self.result.n_total,
            "share": self.result.share,
            "line": self.line,
            "groups": groups,
        }
        if self.vote_ids is not None:
            out["vote_ids"] = self.vote_ids
        return out


def _search(
    a: IntArray, b: IntArray, o: IntArray, models: list[str], spec: TargetSpec, max_votes: int | None
) -> tuple[FragilityResult, float]:
    target = spec.resolve(models)
    t0 = time.perf_counter()
    try:
        res = find_flip(aggregate(a, b, o, len(models)), target, max_votes=max_votes)
    except ValueError as exc:  # e.g. a named model without a finite rating
        raise InvalidLeaderboardRequest(f"--target {spec.text()}: {exc}") from exc
    return res, time.perf_counter() - t0


def _groups(res: FragilityResult, models: list[str], vote_ids: list[IntArray] | None) -> list[InfluenceGroup]:
    out = []
    for k, (i, j, o, count) in enumerate(res.cells()):
        ids = None if vote_ids is None else tuple(int(v) for v in vote_ids[k])
        out.append(InfluenceGroup(models[i], models[j], CELL_OUTCOMES[o], count, ids))
    return out


def influence_of_file(
    path: Path,
    spec: TargetSpec,
    *,
    fmt: str | None = None,
    category: str = "overall",
    keep_named: bool = False,
    max_votes: int | None = None,
) -> InfluenceOutcome:
    """The verified flip of a battles file's counted battles."""
    t0 = time.perf_counter()
    fb = read_battles(Path(path), fmt=fmt, category=checked_category(category), keep_named=keep_named)
    read_s = time.perf_counter() - t0
    res, search_s = _search(fb.model_a, fb.model_b, fb.outcome, fb.models, spec, max_votes)
    line = fragility_line(res, fb.models)
    return InfluenceOutcome(
        str(path), spec.text(), fb.models, res, _groups(res, fb.models, None), line, read_s, search_s
    )


def influence_of_database(
    session_factory: sessionmaker[Session],
    spec: TargetSpec,
    *,
    category: str = "overall",
    max_votes: int | None = None,
) -> InfluenceOutcome:
    """The verified flip of a category's counted votes, with the ids of the votes of the set."""
    selection = vote_selection(category)
    t0 = time.perf_counter()
    with storage_errors(), session_scope(session_factory) as s:
        d = counted_vote_details(s, selection)
    read_s = time.perf_counter() - t0
    if len(d.models) < 2:
        raise InvalidLeaderboardRequest(f"category {category!r} has fewer than two models with counted votes")
    res, search_s = _search(d.model_a, d.model_b, d.outcome, d.models, spec, max_votes)
    rows = select_votes_by_cell(d.model_a, d.model_b, d.outcome, len(d.models), res) if res.found else []
    ids = [np.asarray(d.vote_id[r], dtype=np.int64) for r in rows]
    groups = _groups(res, d.models, ids)
    line = fragility_line(res, d.models)
    return InfluenceOutcome(
        f"database, category {category}", spec.text(), d.models, res, groups, line, read_s, search_s
    )


def check_influence_out(out: Path) -> None:
    """Before the search: ``--out`` must be a writable .json path."""
    if out.suffix.lower() != ".json":
        raise InvalidLeaderboardRequest(f"--out must end in .json, got {out.name!r}")
    check_output_path(out)


def write_influence(outcome: InfluenceOutcome, out: Path) -> None:
    """The set as JSON (groups ``{model_a, model_b, winner, count[, vote_ids]}``), written atomically."""
    with atomic_text_file(out) as fh:
        json.dump(outcome.to_json(), fh, indent=1, allow_nan=False)
        fh.write("\n")
