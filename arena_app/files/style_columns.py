"""Style totals of each kept battle of a battles file, for style control in ``arena leaderboard fit``.

A reader gives an (n, 8) array per chunk: the eight totals of FastChat's ``conv_metadata``
(``sum_assistant_{a,b}_tokens``, ``header_count_``, ``list_count_``, ``bold_count_{a,b}``, dicts summed as
FastChat's style control does; :func:`~arena_app.files.fastchat_rows.style_matrix`), NaN where a row has
none (such rows are dropped, and counted, when style control is asked for). Kept rows' totals are
stacked into (n, 4) arrays per side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from arena_app.files.battle_readers import BattleFileError

NO_STYLE = "no conv_metadata (style control)"

Features = NDArray[np.float64]


class StyleColumns:
    """Accumulates the kept rows' totals chunk by chunk; reordered with the battles when they are sorted."""

    def __init__(self) -> None:
        self.parts: list[Features] = []

    @staticmethod
    def present(cells: Sequence[object], n: int) -> NDArray[np.bool_]:
        """Rows with totals; ``cells``: the reader's (n, 8) array, NaN rows where a row has none."""
        matrix = np.asarray(cells, dtype=np.float64).reshape(n, 8)
        return np.asarray(~np.isnan(matrix).any(axis=1), dtype=bool)

    def add(self, cells: Sequence[object], keep: NDArray[np.bool_]) -> None:
        self.parts.append(np.asarray(cells, dtype=np.float64).reshape(len(keep), 8)[keep])

    def reorder(self, order: NDArray[np.intp]) -> None:
        self.parts = [self.arrays_joined()[order]]

    def arrays_joined(self) -> Features:
        return np.concatenate(self.parts) if self.parts else np.zeros((0, 8))

    def features(self) -> tuple[Features, Features]:
        """(n, 4) totals of side a and of side b."""
        joined = self.arrays_joined()
        return np.ascontiguousarray(joined[:, :4]), np.ascontiguousarray(joined[:, 4:])


def extras_mask(
    n: int,
    want_style: bool,
    langs: frozenset[str] | None,
    style: Sequence[object] | None,
    language: Sequence[object] | None,
    drop: Callable[[str, NDArray[np.bool_]], None],
) -> NDArray[np.bool_]:
    """Rows in ``--langs`` (when given) with style totals (when style control is asked for); the others
    are counted through ``drop``."""
    keep = np.ones(n, dtype=bool)
    if langs is not None:
        if language is None:
            raise BattleFileError("--langs needs a 'language' column/field in the file")
        ok = np.fromiter((isinstance(v, str) and v in langs for v in language), dtype=bool, count=n)
        drop("language not in --langs", ~ok)
        keep &= ok
    if want_style:  # a chunk without any conv_metadata: all its rows lack it
        ok = StyleColumns.present(style, n) if style is not None else np.zeros(n, dtype=bool)
        drop(NO_STYLE, ~ok & keep)
        keep &= ok
    return keep
