"""Markdown counts of one answer (headers, list items, bold spans, fenced code): the style features.

:func:`count_style` runs once when an answer is stored (the services keep conversation totals); style
control (:mod:`leaderboard.style`) reads the totals, never the texts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_HEADER = re.compile(r"^\s{0,3}#{1,6}\s+\S")
_LIST = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+\S")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")


@dataclass(frozen=True)
class MarkdownCounts:
    headers: int
    lists: int
    bold: int
    has_code: bool


def count_style(text: str) -> MarkdownCounts:
    """Count markdown headers, list items and bold spans outside fenced code blocks; ``has_code`` is true
    when the text contains a fenced code block. Called once when an answer is stored."""
    headers = lists = bold = 0
    in_code = has_code = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_code = not in_code
            has_code = True
            continue
        if in_code:
            continue
        if _HEADER.match(line):
            headers += 1
        elif _LIST.match(line):
            lists += 1
        bold += len(_BOLD.findall(line))
    return MarkdownCounts(headers, lists, bold, has_code)
