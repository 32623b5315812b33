"""Leaderboard tables as files: the rows of the rating table and ``--out`` CSV/JSON, written atomically."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

from arena_app.files.output_files import atomic_text_file, check_output_path
from leaderboard.result import LeaderboardResult

OUT_COLUMNS = ("model", "rating", "lower", "upper", "rank_ub", "votes", "online_elo")
STYLE_COLUMNS = ("style_rating", "style_lower", "style_upper")

Cell = str | int | float | None


@dataclass(frozen=True)
class TableRow:
    """One model's row; the style fields are None without style (not asked for, or no style fit)."""

    model: str
    rating: float
    lower: float
    upper: float
    rank_ub: int
    votes: int
    online_elo: float
    style_rating: float | None = None
    style_lower: float | None = None
    style_upper: float | None = None
    style_rank_ub: int | None = None

    def cells(self, columns: tuple[str, ...]) -> dict[str, Cell]:
        """The named columns, JSON-ready: non-finite numbers as None, others rounded to 4 digits."""
        values: dict[str, Cell] = {
            "model": self.model,
            "rating": self.rating,
            "lower": self.lower,
            "upper": self.upper,
            "rank_ub": self.rank_ub,
            "votes": self.votes,
            "online_elo": self.online_elo,
            "style_rating": self.style_rating,
            "style_lower": self.style_lower,
            "style_upper": self.style_upper,
            "style_rank_ub": self.style_rank_ub,
        }
        return {c: _rounded(values[c]) for c in columns}


def table_rows(result: LeaderboardResult, *, style: bool = False, min_votes: int = 0) -> list[TableRow]:
    """Rows in rating order; models below ``min_votes`` left out. With ``style`` the style columns are
    filled when the result has a style fit (the table stays in raw-rating order; style rank in
    ``style_rank_ub``)."""
    st = result.style
    out = []
    for i, model in enumerate(result.models):
        if result.votes[i] < min_votes:
            continue
        row = TableRow(
            model,
            result.rating[i],
            result.lower[i],
            result.upper[i],
            result.rank_ub[i],
            result.votes[i],
            result.online_elo[i],
        )
        if style and st is not None:
            row = replace(
                row,
                style_rating=st.rating[i],
                style_lower=st.lower[i],
                style_upper=st.upper[i],
                style_rank_ub=st.rank_ub[i],
            )
        out.append(row)
    return out


def check_out_path(out: Path) -> str:
    """The suffix of an --out path (.csv or .json); ValueError or OutputPathError otherwise. Called before
    computing, so a bad path fails before the fit, not after it."""
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ValueError(f"--out must end in .csv or .json, got {out.name!r}")
    check_output_path(out)
    return suffix


def write_ratings(result: LeaderboardResult, out: Path, *, style: bool = False, min_votes: int = 0) -> int:
    """Write the table to ``out`` (.csv or .json), atomically; returns the number of rows."""
    out = Path(out)
    suffix = check_out_path(out)
    rows = table_rows(result, style=style, min_votes=min_votes)
    columns = OUT_COLUMNS + (STYLE_COLUMNS if style else ())
    clean = [r.cells(columns) for r in rows]
    with atomic_text_file(out) as fh:
        if suffix == ".csv":
            w = csv.DictWriter(fh, fieldnames=list(columns))
            w.writeheader()
            w.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in clean)
        else:
            json.dump(clean, fh, indent=1, allow_nan=False)
            fh.write("\n")
    return len(rows)


def _rounded(v: Cell) -> Cell:
    if isinstance(v, float):
        return None if not math.isfinite(v) else round(v, 4)
    return v
