"""Leaderboard tables as files: the rows of the rating table and ``--out`` CSV/JSON, written atomically."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from arena_app.files.output_files import atomic_text_file, check_output_path
from leaderboard.compute import LeaderboardResult


def table_rows(result: LeaderboardResult, *, style: bool = False, min_votes: int = 0) -> list[dict[str, Any]]:
    """Rows (dicts) in rating order; models below ``min_votes`` left out. With ``style`` the style columns are
    added (the table stays in raw-rating order; style rank in ``style_rank_ub``)."""
    out = []
    for i, model in enumerate(result.models):
        if result.votes[i] < min_votes:
            continue
        row: dict[str, Any] = {
            "model": model,
            "rating": result.rating[i],
            "lower": result.lower[i],
            "upper": result.upper[i],
            "rank_ub": result.rank_ub[i],
            "votes": result.votes[i],
            "online_elo": result.online_elo[i],
        }
        if style:
            st = result.style or {}
            for key in ("rating", "lower", "upper", "rank_ub"):
                values = st.get(key)
                row[f"style_{key}"] = values[i] if values else None
        out.append(row)
    return out


OUT_COLUMNS = ("model", "rating", "lower", "upper", "rank_ub", "votes", "online_elo")
STYLE_COLUMNS = ("style_rating", "style_lower", "style_upper")


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
    clean = [{c: _json_value(r.get(c)) for c in columns} for r in rows]
    with atomic_text_file(out) as fh:
        if suffix == ".csv":
            w = csv.DictWriter(fh, fieldnames=list(columns))
            w.writeheader()
            w.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in clean)
        else:
            json.dump(clean, fh, indent=1, allow_nan=False)
            fh.write("\n")
    return len(rows)


def _json_value(v: Any) -> Any:
    if isinstance(v, float):
        return None if not math.isfinite(v) else round(v, 4)
    if isinstance(v, np.generic):
        return v.item()
    return v
