"""FastChat's offline vote filters for ``arena leaderboard fit``: ``--exclude-models``, ``--exclude-ties``,
``--daily-vote-cap`` (and ``--langs``, applied while reading), on the battles read from a file.

Applied in FastChat's order (``elo_analysis.report_elo_analysis_results``): language, excluded models,
anonymous only (the reader), ties, then the daily cap per judge (UTC days). The pure masks are
:mod:`leaderboard.filters`; this module applies them to a
:class:`~arena_app.files.battle_columns.FileBattles` and renumbers the models that remain.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from arena_app.files.battle_columns import FileBattles
from leaderboard.data import TIE, TIE_BOTHBAD
from leaderboard.filters import daily_cap_mask, excluded_models_mask, resolve_models


@dataclass(frozen=True)
class FileFilters:
    exclude_models: tuple[str, ...] = ()
    exclude_ties: bool = False
    langs: tuple[str, ...] = ()  # applied by the reader (read_battles' ``langs``)
    daily_vote_cap: int | None = None  # each judge's first N votes of every UTC day

    def lang_set(self) -> frozenset[str] | None:
        return frozenset(self.langs) if self.langs else None


@dataclass(frozen=True)
class Filtered:
    battles: FileBattles
    unknown_models: list[str] = field(default_factory=list)  # --exclude-models names matching no model


def apply_filters(fb: FileBattles, filters: FileFilters) -> Filtered:
    """The battles that pass the filters, models renumbered; drop counts added to ``fb.dropped``."""
    keep = np.ones(len(fb.model_a), dtype=bool)
    unknown: list[str] = []
    if filters.exclude_models:
        excluded, unknown = resolve_models(fb.models, filters.exclude_models)
        ok = excluded_models_mask(fb.model_a, fb.model_b, excluded)
        fb.dropped["an --exclude-models model"] += int((~ok).sum())
        keep &= ok
    if filters.exclude_ties:
        ok = (fb.outcome != TIE) & (fb.outcome != TIE_BOTHBAD)
        fb.dropped["tie (--exclude-ties)"] += int((keep & ~ok).sum())
        keep &= ok
    if filters.daily_vote_cap is not None and len(fb.model_a):
        if fb.cluster is None or fb.tstamp is None:
            raise ValueError("the daily vote cap needs the battles read with their judges and times")
        ok = np.zeros(len(keep), dtype=bool)
        ok[keep] = daily_cap_mask(fb.cluster[keep], fb.tstamp[keep], filters.daily_vote_cap)
        fb.dropped["over --daily-vote-cap"] += int((keep & ~ok).sum())
        keep &= ok
    if keep.all():
        return Filtered(fb, unknown)
    return Filtered(_subset(fb, keep), unknown)


def _subset(fb: FileBattles, keep: NDArray[np.bool_]) -> FileBattles:
    a, b = fb.model_a[keep], fb.model_b[keep]
    used = np.unique(np.concatenate([a, b]))
    remap = np.full(len(fb.models), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    cluster = None
    if fb.cluster is not None:
        _, inverse = np.unique(fb.cluster[keep], return_inverse=True)
        cluster = inverse.ravel().astype(np.int64)
    style = (fb.style[0][keep], fb.style[1][keep]) if fb.style is not None else None
    tstamp = fb.tstamp[keep] if fb.tstamp is not None else None
    return replace(
        fb,
        models=[fb.models[i] for i in used.tolist()],
        model_a=remap[a],
        model_b=remap[b],
        outcome=fb.outcome[keep],
        cluster=cluster,
        style=style,
        tstamp=tstamp,
    )
