"""One integer per kept battle for a battles file's cluster column (``judge`` or ``question_id``), for the
cluster intervals and the per-judge view (used by :mod:`arena_app.files.battle_columns`)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from arena_app.files.battle_readers import BattleFileError, Column
from arena_app.files.csv_arrow import Factor

Codes = NDArray[np.int64]
Mask = NDArray[np.bool_]


class ClusterCodes:
    """One integer per kept battle for the values of a cluster column (judge, question_id), numbered as
    they appear; a battle without a value (null, empty) is a cluster of its own."""

    def __init__(self, column: str) -> None:
        self.column = column
        self.ids: dict[object, int] = {}
        self.parts: list[Codes] = []
        self.alone = 0  # battles without a value so far (their codes are negative until codes())

    def add(self, values: Column | None, keep: Mask) -> None:
        if values is None:
            raise BattleFileError(f"the file has no {self.column!r} field: it is needed for clusters")
        out = np.empty(int(keep.sum()), dtype=np.int64)
        for k, row in enumerate(np.flatnonzero(keep).tolist()):
            v = values[row]
            if v is None or v == "":
                self.alone += 1
                out[k] = -self.alone
            else:
                try:
                    out[k] = self.ids.setdefault(v, len(self.ids))
                except TypeError:  # an unhashable value (a list or object): no usable id
                    self.alone += 1
                    out[k] = -self.alone
        self.parts.append(out)

    def add_factor(self, factor: Factor | None, keep: Mask) -> None:
        if factor is None:
            raise BattleFileError(f"the file has no {self.column!r} column: it is needed for clusters")
        table = np.array([self.ids.setdefault(v, len(self.ids)) if v else -1 for v in factor.values])
        codes = table[factor.codes[keep]] if len(table) else np.zeros(0, dtype=np.int64)
        empty = np.flatnonzero(codes < 0)
        codes[empty] = -(self.alone + 1 + np.arange(len(empty)))
        self.alone += len(empty)
        self.parts.append(codes.astype(np.int64))

    def reorder(self, order: NDArray[np.int64]) -> None:
        self.parts = [np.concatenate(self.parts)[order]] if self.parts else []

    def codes(self) -> Codes:
        """Dense codes 0..C-1 (battles without a value numbered after the others)."""
        raw = np.concatenate(self.parts) if self.parts else np.zeros(0, dtype=np.int64)
        return np.where(raw >= 0, raw, len(self.ids) - 1 - raw).astype(np.int64)
