"""Leaderboard categories: THE one place they are defined.

A category restricts the leaderboard to a subset of counted battles:

* ``overall``     every counted battle;
* ``multi_turn``  battles with two or more user turns (read from the vote's turn count, so it needs no tag);
* ``long_prompt`` some user prompt has at least ``LONG_PROMPT_CHARS`` characters (about 500 tokens);
* ``code``        a prompt or an answer contains code (a fenced block, or several code-looking lines);
* any other tag stored on the battle (``battle_tags``), e.g. an operator's ``language:de``.

:func:`battle_categories` is called by the services when a vote is stored (its result goes to
``add_battle_tags``) and by the file fit; :func:`category_filter` tells the SQL layer how to select one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

OVERALL = "overall"
MULTI_TURN = "multi_turn"
LONG_PROMPT = "long_prompt"
CODE = "code"
BUILTIN_CATEGORIES = (OVERALL, MULTI_TURN, LONG_PROMPT, CODE)
LONG_PROMPT_CHARS = 2000
TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")

_FENCE = re.compile(r"^\s{0,3}(```|~~~)", re.MULTILINE)
_CODE_LINE = re.compile(
    r"^\s*(def |class |import |from \S+ import |#include|public |private |function |const |let |var |"
    r"return\b|for \(|if \(|while \(|SELECT |INSERT |CREATE TABLE|fn |func |package |using )"
    r"|[;{}]\s*$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class CategoryFilter:
    """How to select a category's battles: all of them, by minimum turn count, or by stored tag."""

    kind: str  # "all" | "min_turns" | "tag"
    min_turns: int = 0
    tag: str = ""


def validate_category(name: str) -> str:
    """Return the category name, or raise ``ValueError`` saying what a valid name looks like."""
    if not isinstance(name, str) or not TAG_PATTERN.match(name):
        raise ValueError(
            f"invalid category {name!r}: use 1-64 lowercase letters, digits or _ . : - "
            f"(built in: {', '.join(BUILTIN_CATEGORIES)})"
        )
    return name


def category_filter(name: str) -> CategoryFilter:
    validate_category(name)
    if name == OVERALL:
        return CategoryFilter("all")
    if name == MULTI_TURN:
        return CategoryFilter("min_turns", min_turns=2)
    return CategoryFilter("tag", tag=name)


def looks_like_code(text: str) -> bool:
    """A fenced code block, or at least three code-looking lines."""
    if _FENCE.search(text):
        return True
    return len(_CODE_LINE.findall(text)) >= 3


def battle_categories(
    *,
    turn_count: int,
    prompts: Sequence[str],
    answers: Sequence[str] = (),
    has_code: bool = False,
    extra_tags: Iterable[str] = (),
) -> list[str]:
    """Tags to store on a battle when its vote is recorded (sorted, without ``overall``).

    ``has_code``: pass True when a stored answer already has ``has_code`` set (from ``count_style``) so the
    answers need not be scanned again. ``extra_tags`` are validated like category names.
    """
    tags = {validate_category(t) for t in extra_tags}
    tags.discard(OVERALL)
    if turn_count >= 2:
        tags.add(MULTI_TURN)
    if any(len(p) >= LONG_PROMPT_CHARS for p in prompts):
        tags.add(LONG_PROMPT)
    if has_code or any(looks_like_code(t) for t in (*prompts, *answers)):
        tags.add(CODE)
    return sorted(tags)


def file_row_categories(turn: int | None, tags: Iterable[str] = ()) -> set[str]:
    """Categories a battles-file row belongs to (files carry no texts: turn count and explicit tags)."""
    out = {OVERALL}
    if turn is not None and turn >= 2:
        out.add(MULTI_TURN)
    out.update(t for t in tags if isinstance(t, str) and TAG_PATTERN.match(t))
    return out
