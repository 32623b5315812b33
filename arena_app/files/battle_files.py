"""Read battles files for ``arena leaderboard fit``: FastChat ``clean_battle_*.json`` (a JSON array),
JSON Lines (FastChat-style objects or our export's rows), and our CSV export.

Readers (:mod:`arena_app.files.battle_readers`) yield column chunks; this module turns them into compact
numpy code arrays with per-distinct-value look-ups, filters them and keeps the file's time order (or sorts
by timestamp when the file is not in order). Rows are dropped, and counted, when
they are not anonymous (unless ``keep_named``), carry an ``excluded_reason``, are outside the category,
battle a model against itself, or have a winner that is not one of the four FastChat names; unknown winners
are reported with examples, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from arena_app.files.battle_columns import BattleAccumulator, FileBattles, NeedsSort
from arena_app.files.battle_readers import (
    CLUSTER_COLUMNS,
    FORMATS,
    BattleFileError,
    Columns,
    NotFlatJSON,
    csv_chunks,
    detect_format,
    json_chunks,
    jsonl_chunks,
)
from arena_app.files.csv_arrow import Block
from arena_app.files.gc_pause import gc_paused
from arena_app.files.style_columns import NO_STYLE
from leaderboard.categories import OVERALL, category_filter

__all__ = ["BattleFileError", "FileBattles", "read_battles"]


def read_battles(
    path: Path,
    *,
    fmt: str | None = None,
    category: str = OVERALL,
    keep_named: bool = False,
    cluster: str | None = None,
    style: bool = False,
    langs: frozenset[str] | None = None,
    times: bool = False,
) -> FileBattles:
    """Read and filter a battles file; battles come back in time order. ``cluster``: also read this column
    (one of :data:`~arena_app.files.battle_readers.CLUSTER_COLUMNS`) as one code per battle. ``style``:
    also each battle's style totals from FastChat's ``conv_metadata`` (rows without them are dropped);
    ``langs``: keep only rows whose ``language`` is one of these (FastChat's ``--langs``); ``times``: also
    each battle's unix time (``FileBattles.tstamp``; the file must have a ``tstamp``)."""
    if cluster is not None and cluster not in CLUSTER_COLUMNS:
        raise BattleFileError(f"unknown cluster column {cluster!r}: use {' or '.join(CLUSTER_COLUMNS)}")
    path = Path(path)
    if not path.is_file():
        raise BattleFileError(f"no such file: {path}")
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise BattleFileError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    kind = category_filter(category).kind
    if style and fmt == "csv":
        raise BattleFileError(
            "style control needs FastChat's conv_metadata, which a CSV file has not: fit a FastChat "
            "clean_battle file or `arena export votes --format fastchat`"
        )
    want = frozenset({"style"} if style else set()) | frozenset({"tags"} if kind == "tag" else set())
    options = _Options(category, keep_named, cluster, style, langs, times)

    def read(chunks: Chunks, *, trust_order: bool) -> FileBattles:
        fb = _read(path, chunks, options, trust_order=trust_order)
        if style and not len(fb.model_a) and fb.dropped[NO_STYLE]:
            raise BattleFileError(
                f"{path.name}: style control needs FastChat's conv_metadata, and no battle has it (fit a "
                "FastChat clean_battle file, or `arena export votes --format fastchat`)"
            )
        if times and fb.tstamp is None and len(fb.model_a):
            raise BattleFileError(f"{path.name}: the daily vote cap needs each battle's tstamp")
        return fb

    with gc_paused():
        try:
            if fmt == "csv":
                fast_ok = kind != "tag" and cluster in (None, "judge") and langs is None
                return read(
                    lambda fast: csv_chunks(
                        path,
                        fast=fast and fast_ok,
                        want_turn=kind == "min_turns",
                        want_judge=cluster == "judge",
                    ),
                    trust_order=True,
                )
            if fmt == "jsonl":
                return read(lambda fast: jsonl_chunks(path, want), trust_order=False)
            for how in ("flat", "indented"):
                try:
                    return read(partial(_json, path, how, want), trust_order=False)
                except NotFlatJSON:
                    pass  # not this layout: the next reader
            return read(partial(_json, path, "ijson", want), trust_order=False)
        except UnicodeDecodeError as exc:  # CSV is decoded as UTF-8 (JSON readers report it themselves)
            raise BattleFileError(f"{path.name}: not UTF-8 text ({exc.reason})") from exc


def _json(path: Path, how: str, want: frozenset[str], fast: bool) -> Iterable[Columns | Block]:
    return json_chunks(path, how=how, want=want)


#: the chunks of one read of the file; the argument says whether the fast path may be used
Chunks = Callable[[bool], Iterable[Columns | Block]]


@dataclass(frozen=True)
class _Options:
    category: str
    keep_named: bool
    cluster: str | None
    style: bool
    langs: frozenset[str] | None
    times: bool


def _read(path: Path, chunks: Chunks, options: _Options, *, trust_order: bool = True) -> FileBattles:
    """``trust_order``: first read assuming the file is in time order (checked; CSV timestamps then need no
    parsing), and read again parsing them only if it is not. Otherwise parse timestamps at once and sort
    (stable) at the end."""
    attempts = ("fast", "sorted") if trust_order and not options.times else ("sorted",)
    for attempt in attempts:
        cluster = options.cluster
        acc = BattleAccumulator(
            options.category, options.keep_named, cluster, style=options.style, langs=options.langs
        )
        acc.sorted_so_far = attempt == "fast"
        for cols in chunks(attempt == "fast"):
            if isinstance(cols, Block):
                acc.add_block(cols)
                continue
            anony = cols.get("anony", cols.get("mode"))
            acc.add(
                cols["model_a"],
                cols["model_b"],
                cols["winner"],
                anony=anony,
                excluded=cols.get("excluded_reason"),
                tstamp=cols.get("tstamp"),
                turn=cols.get("turn"),
                tags=cols.get("tags"),
                cluster=cols.get(cluster) if cluster is not None else None,
                style=cols.get("style"),
                language=cols.get("language"),
            )
        try:
            return acc.finish()
        except NeedsSort:
            if attempt == "sorted" or all(p[3] is not None for p in acc.parts):
                return _sorted(acc)  # (pyarrow blocks carry their times: no second read)
            # not in time order: read again, parsing every timestamp this time
    raise AssertionError("unreachable")


def _sorted(acc: BattleAccumulator) -> FileBattles:
    """Stable sort by timestamp (rows without a parseable one keep their place at the end)."""
    # parts without a timestamp column sort after every timed row (NaN), keeping their order
    ts = np.concatenate([p[3] if p[3] is not None else np.full(len(p[0]), np.nan) for p in acc.parts])
    a = np.concatenate([p[0] for p in acc.parts])
    b = np.concatenate([p[1] for p in acc.parts])
    o = np.concatenate([p[2] for p in acc.parts])
    order = np.argsort(ts, kind="stable")
    acc.parts = [(a[order], b[order], o[order], None)]
    if acc.clusters is not None:
        acc.clusters.reorder(order)
    if acc.style is not None:
        acc.style.reorder(order)
    acc.any_tstamp = False
    fb = acc.finish()
    fb.tstamp = ts[order]
    return fb
