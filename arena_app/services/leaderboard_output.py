"""The leaderboard for operators: the table ``arena leaderboard`` prints, and its ``--out`` files.

The files are written by :mod:`arena_app.files.leaderboard_files` (re-exported here for the CLI).
"""

from __future__ import annotations

import math

from arena_app.files.leaderboard_files import check_out_path, table_rows, write_ratings
from leaderboard.result import LeaderboardResult

__all__ = ["check_out_path", "format_table", "method_lines", "write_ratings"]


def format_table(
    result: LeaderboardResult, *, style: bool = False, min_votes: int = 0, limit: int | None = None
) -> str:
    rows = table_rows(result, style=style, min_votes=min_votes)[:limit]
    head = f"{'rank':>4}  {'model':<40} {'rating':>8} {'95% CI':>15} {'votes':>9} {'elo':>7}"
    if style:
        head += f"  {'style':>8} {'style CI':>15}"
    lines = [head, "-" * len(head)]
    for r in rows:
        ci = f"{_f(r.lower)}..{_f(r.upper)}"
        elo = _f(r.online_elo, 0)
        line = f"{r.rank_ub:>4}  {r.model[:40]:<40} {_f(r.rating):>8} {ci:>15} {r.votes:>9} {elo:>7}"
        if style:
            sci = f"{_f(r.style_lower)}..{_f(r.style_upper)}"
            line += f"  {_f(r.style_rating):>8} {sci:>15}"
        lines.append(line)
    return "\n".join(lines)


def method_lines(result: LeaderboardResult) -> list[str]:
    """How the numbers were computed, beyond the table: the interval method (clusters, weights), the tie
    model's parameter, and the stored fragility line."""
    p = result.params
    how = f"intervals: {p.ci}"
    if p.cluster is not None:
        clusters = f"{result.clusters:,} " if result.clusters is not None else ""
        how += f" over {clusters}{'judges' if p.cluster == 'judge' else 'prompts'}"
    if p.ties == "davidson":
        how += "; ties: Davidson model"
    if result.weighted:
        how += "; fit weighted by the battles' inverse sampling propensities"
    lines = [how]
    tm = result.tie_model
    if tm is not None:
        ci = ""
        if tm.nu_lower is not None and tm.nu_upper is not None:
            ci = f" (95% CI {tm.nu_lower:.3f}..{tm.nu_upper:.3f})"
        lines.append(
            f"tie parameter nu = {tm.nu:.3f}{ci}: tie {tm.nu_tie:.3f} + both bad {tm.nu_bothbad:.3f}; "
            f"P(tie) between equal models {tm.tie_probability_equal:.1%}"
        )
    if result.fragility is not None:
        lines.append(result.fragility.line)
    return lines


def _f(v: float | None, digits: int = 1) -> str:
    if v is None or math.isnan(v):
        return "-"
    return f"{v:.{digits}f}"
