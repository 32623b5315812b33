"""One FastChat battle row (a ``clean_battle_*.json`` element or a JSON Lines object) -> checked values.

Used by ``arena import battles`` (one :class:`FastChatBattle` per row) and by the file fit (the tags and
style counts of a row). The fields and their meaning are FastChat's (``fastchat/serve/monitor``):

- ``model_a``, ``model_b`` (names), ``winner`` (``model_a`` | ``model_b`` | ``tie`` | ``tie (bothbad)``);
- ``judge`` (the voter; hashed before it is stored), ``turn`` (user turns), ``anony`` (bool; our export's
  ``mode`` is read too), ``tstamp`` (unix seconds, or our export's ISO 8601), ``language``;
- ``question_id``: the battle's id, the idempotency key of an import (a row without one is keyed by a hash
  of its fields);
- ``conv_metadata``: per answer ``sum_assistant_{a,b}_tokens`` and ``header_count_``/``list_count_``/
  ``bold_count_{a,b}`` (an int, or a dict whose values are summed, as FastChat's style control does);
- categories (:func:`fastchat_tags`): ``is_code`` -> ``code``; ``turn >= 2`` -> ``multi_turn``;
  ``category_tag``: ``criteria_v0.1`` with >= 6 criteria true -> ``hard_6``, ``if_v0.1.if`` -> ``if``,
  ``math_v0.1.math`` -> ``math``, ``creative_writing_v0.1.creative_writing`` -> ``creative_writing``;
  ``conv_metadata.sum_user_tokens >= 500`` -> ``long_user``; plus explicit ``tags`` (our export).
- ``conversation_a``/``conversation_b`` (the conversation release): lists of ``{role, content}``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from typing import cast

import numpy as np
from numpy.typing import NDArray

from arena_app.domain import OUTCOME_NAMES, BattleMode
from leaderboard.categories import TAG_PATTERN

HARD_CRITERIA = 6  # FastChat's "hard_6": at least 6 of the 7 criteria_v0.1 labels
LONG_USER_TOKENS = 500  # FastChat's "long_user" category
STYLE_KEYS = ("sum_assistant_{}_tokens", "header_count_{}", "list_count_{}", "bold_count_{}")
MAX_NAME = 200
MAX_MESSAGES = 400


class RowProblem(ValueError):
    """Why one row cannot be imported (the message is the reason, without the row's position)."""


@dataclass(frozen=True, slots=True)
class StyleCounts:
    """Style totals of one side's answers: tokens, markdown headers, list items, bold spans."""

    tokens: int
    headers: int
    lists: int
    bold: int


@dataclass(frozen=True, slots=True)
class FastChatBattle:
    key: str  # the import key: fastchat:<question_id>, or row-sha256:<hash of the fields>
    question_id: str | None
    model_a: str
    model_b: str
    winner: str
    judge: str | None
    turn: int
    mode: str  # a BattleMode
    tstamp: float  # unix seconds
    language: str | None
    tags: tuple[str, ...]
    style_a: StyleCounts | None
    style_b: StyleCounts | None
    conversation_a: tuple[tuple[str, str], ...] | None
    conversation_b: tuple[tuple[str, str], ...] | None


def _count(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise RowProblem(f"conv_metadata.{what} must be a count, got {value!r}")
    if isinstance(value, int):
        total = value
    elif isinstance(value, Mapping):
        total = sum(_count(v, what) for v in value.values())
    elif isinstance(value, float) and value.is_integer():
        total = int(value)
    else:
        raise RowProblem(f"conv_metadata.{what} must be a count or a dict of counts, got {value!r}"[:200])
    if total < 0:
        raise RowProblem(f"conv_metadata.{what} is negative ({total})")
    return total


def style_counts(meta: object, side: str) -> StyleCounts | None:
    """The style totals of side ``a`` or ``b`` from FastChat's ``conv_metadata`` (None when absent)."""
    if meta is None:
        return None
    if not isinstance(meta, Mapping):
        raise RowProblem(f"conv_metadata must be an object, got {type(meta).__name__}")
    keys = [k.format(side) for k in STYLE_KEYS]
    missing = [k for k in keys if k not in meta]
    if missing:
        raise RowProblem(f"conv_metadata lacks {', '.join(missing)}")
    tokens, headers, lists, bold = (_count(meta[k], k) for k in keys)
    return StyleCounts(tokens, headers, lists, bold)


def _flag(value: object) -> bool:
    return value is True or value == 1 or value == "true" or value == "True"


_LABELS = (("if_v0.1", "if"), ("math_v0.1", "math"), ("creative_writing_v0.1", "creative_writing"))


def fastchat_tags(row: Mapping[str, object], turn: int | None) -> tuple[str, ...]:
    """Category tags of a FastChat row (see the module docstring), sorted."""
    tags: set[str] = set()
    if _flag(row.get("is_code")):
        tags.add("code")
    if turn is not None and turn >= 2:
        tags.add("multi_turn")
    cat = row.get("category_tag")
    if isinstance(cat, Mapping):
        criteria = cat.get("criteria_v0.1")
        if isinstance(criteria, Mapping) and sum(v is True for v in criteria.values()) >= HARD_CRITERIA:
            tags.add("hard_6")
        for group, label in _LABELS:
            sub = cat.get(group)
            if isinstance(sub, Mapping) and _flag(sub.get(label)):
                tags.add(label)
    meta = row.get("conv_metadata")
    if isinstance(meta, Mapping):
        user = meta.get("sum_user_tokens")
        if isinstance(user, int | float) and not isinstance(user, bool) and user >= LONG_USER_TOKENS:
            tags.add("long_user")
    explicit = row.get("tags")
    if isinstance(explicit, str):
        explicit = [t for t in explicit.split(",") if t]
    if isinstance(explicit, list):
        tags.update(t for t in explicit if isinstance(t, str) and TAG_PATTERN.match(t))
    return tuple(sorted(tags))


def _name(row: Mapping[str, object], key: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RowProblem(f"{key} must be a non-empty string, got {value!r}"[:200])
    if len(value) > MAX_NAME:
        raise RowProblem(f"{key} is longer than {MAX_NAME} characters")
    return value


def tstamp_seconds(value: object) -> float:
    """Unix seconds from FastChat's number or our export's ISO 8601 text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                raise RowProblem(f"tstamp {value!r} is neither unix seconds nor ISO 8601"[:200]) from None
    else:
        raise RowProblem(f"tstamp must be unix seconds, got {value!r}"[:200])
    if not math.isfinite(seconds) or not 0 <= seconds < 1e11:
        raise RowProblem(f"tstamp {value!r} is out of range")
    return seconds


def _mode(row: Mapping[str, object]) -> str:
    if "anony" in row:
        anony = row["anony"]
        if not isinstance(anony, bool):
            raise RowProblem(f"anony must be true or false, got {anony!r}"[:200])
        return BattleMode.ANONY.value if anony else BattleMode.NAMED.value
    mode = row.get("mode", BattleMode.ANONY.value)
    if mode not in (BattleMode.ANONY.value, BattleMode.NAMED.value):
        raise RowProblem(f"mode must be anony or named, got {mode!r}"[:200])
    return str(mode)


def _conversation(value: object, key: str) -> tuple[tuple[str, str], ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_MESSAGES:
        raise RowProblem(f"{key} must be a list of at most {MAX_MESSAGES} {{role, content}} messages")
    out = []
    for m in value:
        role = m.get("role") if isinstance(m, Mapping) else None
        content = m.get("content") if isinstance(m, Mapping) else None
        if role not in ("user", "assistant", "system") or not isinstance(content, str):
            raise RowProblem(f"{key}: a message is not {{role: user|assistant|system, content: text}}")
        out.append((str(role), content))
    return tuple(out)


def _row_key(question_id: str | None, fields: list[object]) -> str:
    if question_id is not None:
        return f"fastchat:{question_id}"
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()
    return f"row-sha256:{digest}"


def parse_battle(row: object) -> FastChatBattle:
    """Check one row; :class:`RowProblem` says what is wrong with it."""
    if not isinstance(row, Mapping):
        raise RowProblem(f"a battle must be a JSON object, got {type(row).__name__}")
    model_a, model_b = _name(row, "model_a"), _name(row, "model_b")
    if model_a == model_b:
        raise RowProblem(f"model_a and model_b are the same model ({model_a!r})")
    winner = row.get("winner")
    if winner not in OUTCOME_NAMES:
        raise RowProblem(f"winner {winner!r} is not one of {', '.join(OUTCOME_NAMES)}"[:200])
    turn = row.get("turn", 1)
    if isinstance(turn, bool) or not isinstance(turn, int) or not 0 <= turn <= 10_000:
        raise RowProblem(f"turn must be a whole number >= 0, got {turn!r}"[:200])
    judge = row.get("judge")
    if judge is not None and not isinstance(judge, str | int):
        raise RowProblem(f"judge must be text, got {type(judge).__name__}")
    qid = row.get("question_id")
    if qid is not None and (not isinstance(qid, str | int) or isinstance(qid, bool) or not str(qid)):
        raise RowProblem(f"question_id must be text, got {qid!r}"[:200])
    question_id = None if qid is None else str(qid)
    if question_id is not None and len(question_id) > MAX_NAME - 10:
        raise RowProblem("question_id is too long")
    language = row.get("language")
    if language is not None and not isinstance(language, str):
        raise RowProblem(f"language must be text, got {language!r}"[:200])
    tstamp = tstamp_seconds(row.get("tstamp"))
    meta = row.get("conv_metadata")
    judge_text = None if judge is None else str(judge)
    return FastChatBattle(
        key=_row_key(question_id, [model_a, model_b, winner, judge_text, tstamp, turn]),
        question_id=question_id,
        model_a=model_a,
        model_b=model_b,
        winner=str(winner),
        judge=judge_text,
        turn=turn,
        mode=_mode(row),
        tstamp=tstamp,
        language=language[:64] if language else None,
        tags=fastchat_tags(row, turn),
        style_a=style_counts(meta, "a"),
        style_b=style_counts(meta, "b"),
        conversation_a=_conversation(row.get("conversation_a"), "conversation_a"),
        conversation_b=_conversation(row.get("conversation_b"), "conversation_b"),
    )


#: the eight style totals of one row: tokens, headers, lists, bold of side a, then of side b
StyleCell = tuple[int, int, int, int, int, int, int, int]


def style_cell(meta: object) -> StyleCell | None:
    """The style totals of one row's ``conv_metadata`` (None when absent or not usable), for the file fit."""
    if not isinstance(meta, Mapping):
        return None
    try:
        a, b = style_counts(meta, "a"), style_counts(meta, "b")
    except RowProblem:
        return None
    assert a is not None and b is not None
    return (a.tokens, a.headers, a.lists, a.bold, b.tokens, b.headers, b.lists, b.bold)


def style_matrix(metas: list[object]) -> NDArray[np.float64]:
    """:func:`style_cell` of many rows at once, as an (n, 8) array with NaN rows where a row has no
    usable ``conv_metadata``. Each key is read for all rows with C-level ``map`` calls; only a column
    that is neither all ints nor all dicts of ints falls back to row-by-row checks."""
    n = len(metas)
    out = np.full((n, 8), np.nan)
    if not all(map(isinstance, metas, repeat(dict))):
        return _slow_matrix(metas)
    dicts = cast("list[dict[str, object]]", metas)
    keys = [k.format(side) for side in ("a", "b") for k in STYLE_KEYS]
    for j, key in enumerate(keys):
        col = list(map(dict.get, dicts, repeat(key)))
        if all(map(isinstance, col, repeat(dict))):
            try:
                counts = cast("list[dict[str, int]]", col)
                out[:, j] = np.fromiter(map(sum, map(dict.values, counts)), dtype=np.float64, count=n)
                continue
            except TypeError:  # a value that is not a number: checked row by row below
                pass
        elif all(type(v) is int for v in col):
            out[:, j] = np.asarray(col, dtype=np.float64)
            continue
        return _slow_matrix(metas)
    out[(out < 0).any(axis=1)] = np.nan  # a negative count is not a count: the row has no usable totals
    return out


def _slow_matrix(metas: list[object]) -> NDArray[np.float64]:
    out = np.full((len(metas), 8), np.nan)
    for i, meta in enumerate(metas):
        cell = style_cell(meta)
        if cell is not None:
            out[i] = cell
    return out
