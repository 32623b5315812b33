"""Column chunks of a battles file -> compact numpy code arrays, filtered, with the drop counts.

Used by :mod:`arena_app.files.battle_files` (which reads the chunks and keeps the time order). Model
names are numbered as they appear and renumbered by name at the end; winners map to FastChat's outcome
codes, anything else is counted as unknown.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, cast

import numpy as np
from numpy.typing import DTypeLike, NDArray

from arena_app.domain import OUTCOME_CODES
from arena_app.files.battle_readers import BattleFileError, Column
from arena_app.files.cell_values import is_anony as _is_anony
from arena_app.files.cell_values import seconds as _seconds
from arena_app.files.cell_values import tag_list as _tag_list
from arena_app.files.cell_values import whole as _int
from arena_app.files.cluster_codes import ClusterCodes
from arena_app.files.csv_arrow import Block, Factor
from arena_app.files.style_columns import Features, StyleColumns, extras_mask
from leaderboard.categories import MULTI_TURN, category_filter

Codes = NDArray[np.int64]
Mask = NDArray[np.bool_]
#: one chunk's kept rows: model_a, model_b, outcome codes, and timestamps when they must be sorted
Part = tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.int8], NDArray[np.float64] | None]


@dataclass
class FileBattles:
    """The battles of a file, in time order; model codes index ``models`` (sorted names)."""

    models: list[str]
    model_a: Codes
    model_b: Codes
    outcome: Codes  # time-ordered (stable sort by tstamp when the file has one)
    rows_read: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    unknown_winners: Counter[str] = field(default_factory=Counter)
    cluster: Codes | None = None  # per battle, 0..C-1, when read_battles was asked for a cluster column
    style: tuple[Features, Features] | None = None  # (n, 4) totals per side, when asked for style
    tstamp: NDArray[np.float64] | None = None  # unix seconds per battle, when asked for times


class BattleAccumulator:
    """Turns column chunks into compact code arrays; keeps the drop counts."""

    def __init__(
        self,
        category: str,
        keep_named: bool,
        cluster: str | None = None,
        *,
        style: bool = False,
        langs: frozenset[str] | None = None,
    ) -> None:
        self.style = StyleColumns() if style else None
        self.langs = langs
        self.filter = category_filter(category)
        self.keep_named = keep_named
        self.clusters = ClusterCodes(cluster) if cluster is not None else None
        self.model_ids: dict[str, int] = {}
        self.parts: list[Part] = []
        self.rows = 0
        self.dropped: Counter[str] = Counter()
        self.unknown: Counter[str] = Counter()
        self.sorted_so_far = True
        self.last_tstamp: Any = None  # a str or a number, compared with the next chunk's first
        self.any_tstamp = False

    def add(
        self,
        model_a: Column,
        model_b: Column,
        winner: Column,
        *,
        anony: Column | None,
        excluded: Column | None,
        tstamp: Column | None,
        turn: Column | None,
        tags: Column | None,
        cluster: Column | None = None,
        style: Column | None = None,
        language: Column | None = None,
    ) -> None:
        """Add a chunk given column-wise (one entry per row)."""
        n = len(model_a)
        self.rows += n
        keep = np.ones(n, dtype=bool)

        def drop(reason: str, bad: Mask) -> None:
            self.dropped[reason] += int((keep & bad).sum())

        if anony is not None and not self.keep_named:
            ok = np.fromiter(map(_ANONY.get, anony, repeat(False)), dtype=bool, count=n)
            if not ok.all():  # rare spellings ("True", 1.0, ...) the table does not hold
                ok = np.fromiter(map(_is_anony, anony), dtype=bool, count=n)
            drop("not anonymous", ~ok)
            keep &= ok
        if excluded is not None:
            ok = np.fromiter(map(operator.not_, excluded), dtype=bool, count=n)
            drop("excluded_reason set", ~ok)
            keep &= ok
        if self.filter.kind != "all":
            ok = self._category_mask(n, turn, tags)
            drop("outside the category", ~ok)
            keep &= ok
        keep &= extras_mask(n, self.style is not None, self.langs, style, language, drop)
        try:
            o = np.fromiter(map(_WINNER_CODES.get, winner, repeat(-1)), dtype=np.int8, count=n)
        except TypeError:  # an unhashable winner (a list or object): unknown, and reported as such
            o = np.array(
                [_WINNER_CODES.get(x, -1) if isinstance(x, str) else -1 for x in winner], dtype=np.int8
            )
        unknown = o < 0
        if unknown.any():
            for k in np.flatnonzero(unknown & keep):
                self.unknown[str(winner[int(k)])] += 1
            keep &= ~unknown
        bad_names = [
            x for x in (*model_a[:1000], *model_b[:1000]) if not isinstance(x, str) and x is not None
        ]
        if bad_names:
            raise BattleFileError(f"model names must be strings, got {bad_names[0]!r}")
        for name in set(model_a).union(model_b):
            if name not in self.model_ids and isinstance(name, str) and name:
                self.model_ids[name] = len(self.model_ids)
        ids = cast("dict[object, int]", self.model_ids)  # any value may be looked up; non-names get -1
        a = np.fromiter(map(ids.get, model_a, repeat(-1)), dtype=np.int32, count=n)
        b = np.fromiter(map(ids.get, model_b, repeat(-1)), dtype=np.int32, count=n)
        keep &= _paired(a, b, drop)
        ts = self._tstamps(tstamp, len(keep))
        if self.clusters is not None:
            self.clusters.add(cluster, keep)
        if self.style is not None and style is not None:
            self.style.add(style, keep)
        self.parts.append((a[keep], b[keep], o[keep], ts[keep] if ts is not None else None))

    def add_block(self, blk: Block) -> None:
        """Add a pyarrow-parsed CSV block: every per-row decision is a table look-up on distinct values."""
        n = blk.n
        self.rows += n
        keep = np.ones(n, dtype=bool)
        f = blk.fields

        def table(factor: Factor, fn: Callable[[str], object], dtype: DTypeLike) -> NDArray[Any]:
            if not n:
                return np.zeros(0, dtype)
            per_row: NDArray[Any] = np.array([fn(v) for v in factor.values], dtype=dtype)[factor.codes]
            return per_row

        def drop(reason: str, bad: Mask) -> None:
            self.dropped[reason] += int((keep & bad).sum())

        if not self.keep_named and "mode" in f:
            ok = table(f["mode"], _is_anony, bool)
            drop("not anonymous", ~ok)
            keep &= ok
        if "excluded_reason" in blk.empty:
            excluded = ~blk.empty["excluded_reason"]
            drop("excluded_reason set", excluded)
            keep &= ~excluded
        if self.filter.kind == "min_turns":
            if "turn" not in f:
                raise BattleFileError(f"category {MULTI_TURN} needs a 'turn' column/field in the file")
            ok = table(f["turn"], lambda v: _int(v) >= self.filter.min_turns, bool)
            drop("outside the category", ~ok)
            keep &= ok
        o = table(f["winner"], lambda v: OUTCOME_CODES.get(v, -1), np.int8)
        unknown = o < 0
        if unknown.any():
            counts = np.bincount(f["winner"].codes[unknown & keep], minlength=len(f["winner"].values))
            for value, c in zip(f["winner"].values, counts.tolist(), strict=True):
                if c:
                    self.unknown[value] += c
            keep &= ~unknown
        for name in (*f["model_a"].values, *f["model_b"].values):
            if name and name not in self.model_ids:
                self.model_ids[name] = len(self.model_ids)
        a = table(f["model_a"], lambda v: self.model_ids.get(v, -1), np.int32)
        b = table(f["model_b"], lambda v: self.model_ids.get(v, -1), np.int32)
        keep &= _paired(a, b, drop)
        ts = blk.seconds
        if ts is not None:
            self.any_tstamp = True
            if self.sorted_so_far and n:  # NaN (unparseable) compares False: not known to be in order
                last = self.last_tstamp
                ordered = bool(np.all(ts[1:] >= ts[:-1])) and (last is None or bool(last <= ts[0]))
                self.last_tstamp = float(ts[-1])
                self.sorted_so_far = ordered
        if self.clusters is not None:
            self.clusters.add_factor(f.get("judge"), keep)
        self.parts.append((a[keep], b[keep], o[keep], ts[keep] if ts is not None else None))

    def _category_mask(self, n: int, turn: Column | None, tags: Column | None) -> Mask:
        f = self.filter
        if f.kind == "min_turns":
            if turn is None:
                raise BattleFileError(f"category {MULTI_TURN} needs a 'turn' column/field in the file")
            return np.fromiter((_int(t) >= f.min_turns for t in turn), dtype=bool, count=n)
        if tags is None:
            raise BattleFileError(f"category {f.tag!r} needs a 'tags' column/field in the file")
        return np.fromiter((f.tag in _tag_list(t) for t in tags), dtype=bool, count=n)

    def _tstamps(self, tstamp: Sequence[Any] | None, n: int) -> NDArray[np.float64] | None:
        """Timestamps to sort by, or a placeholder while the file is in order (checked here). JSON values
        of any type arrive: a comparison that fails (TypeError) means "not known to be in order"."""
        if tstamp is None:
            return None
        self.any_tstamp = True
        # Most files are already in time order: check that in C and only parse when we must sort.
        if self.sorted_so_far:
            try:
                # strings compare like times only at one fixed width (ISO 8601 'Z' or 10-digit seconds)
                same_width = not isinstance(tstamp[0], str) or len(set(map(len, tstamp))) == 1
                if isinstance(self.last_tstamp, str) and n and len(self.last_tstamp) != len(tstamp[0]):
                    same_width = False
                ordered = (
                    same_width
                    and all(map(operator.le, tstamp[:-1], tstamp[1:]))
                    and (self.last_tstamp is None or not n or self.last_tstamp <= tstamp[0])
                )
            except TypeError:
                ordered = False
            if ordered:
                if n:
                    self.last_tstamp = tstamp[-1]
                return np.zeros(n)  # placeholder, never used while sorted
            self.sorted_so_far = False
        try:  # numbers (FastChat's unix seconds): one C conversion
            return np.asarray(tstamp, dtype=np.float64)
        except (TypeError, ValueError):
            return np.fromiter(map(_seconds, tstamp), dtype=np.float64, count=n)

    def finish(self) -> FileBattles:
        parts = self.parts
        a = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int32)
        b = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int32)
        o = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, np.int8)
        if self.any_tstamp and not self.sorted_so_far:
            raise NeedsSort
        # Keep only models that still have battles, renumbered by name for a stable order.
        used = np.zeros(len(self.model_ids), dtype=bool)
        used[a] = True
        used[b] = True
        names = sorted(n for n, i in self.model_ids.items() if used[i])
        remap = np.full(len(self.model_ids), -1, dtype=np.int64)
        for new, name in enumerate(names):
            remap[self.model_ids[name]] = new
        cluster = self.clusters.codes() if self.clusters is not None else None
        style = self.style.features() if self.style is not None else None
        return FileBattles(
            names,
            remap[a],
            remap[b],
            o.astype(np.int64),
            self.rows,
            self.dropped,
            self.unknown,
            cluster,
            style,
        )


def _paired(a: NDArray[np.int32], b: NDArray[np.int32], drop: Callable[[str, Mask], None]) -> Mask:
    """Rows whose two model names are known and different; the others are counted through ``drop``."""
    missing = (a < 0) | (b < 0)
    drop("missing model name", missing)
    same = (a == b) & ~missing
    drop("model against itself", same)
    kept: Mask = ~(missing | same)
    return kept


class NeedsSort(Exception):
    pass


_ANONY: dict[object, bool] = {True: True, "anony": True, "true": True}  # True == 1, so 1 is in too
# dict.get with a default works in C; unhashable winners (lists, dicts) are mapped to "unknown" first
_WINNER_CODES: dict[object, int] = {name: code for name, code in OUTCOME_CODES.items()}
