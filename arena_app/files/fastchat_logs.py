"""FastChat's raw conversation logs (``<YYYY-MM-DD>-conv.json``, JSON Lines) -> voted battles.

A vote record (``leftvote``, ``rightvote``, ``tievote``, ``bothbad_vote``) carries both sides' conversation
states (``conv_id``, ``model_name``, ``messages`` as ``[role, text]`` pairs from ``offset``), the names shown
(``models``: empty strings, or "Model A", while anonymous) and the voter's ``ip``. :func:`parse_vote` turns
one into a :class:`LoggedBattle`; :func:`exclusion` applies FastChat's cleaning rules
(``clean_battle_data.py``), which here mark the vote excluded (with its reason) instead of dropping it:

- ``invalid_names``: only one side's name shown, or shown names that differ from the models that answered;
- ``identity_leak``: a message (prompt or answer, either side) names a model or its maker (FastChat's
  identity words, plus the operator's);
- ``error_marker``: a message holds one of FastChat's error texts (network error, moderation, API error).

Other records (``chat``, ``share``, ``upvote`` ...) are counted, not imported: a battle's conversations are
complete in its vote record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from arena_app.domain import BattleMode, ExcludedReason, Outcome
from arena_app.files.fastchat_rows import MAX_MESSAGES, MAX_NAME, RowProblem, tstamp_seconds

VOTE_TYPES = {
    "leftvote": Outcome.MODEL_A.value,
    "rightvote": Outcome.MODEL_B.value,
    "tievote": Outcome.TIE.value,
    "bothbad_vote": Outcome.BOTHBAD.value,
}
# FastChat's IDENTITY_WORDS (clean_battle_data.py), matched in lowercase like there
IDENTITY_WORDS = (
    "vicuna", "lmsys", "koala", "uc berkeley", "open assistant", "laion", "chatglm", "chatgpt", "gpt-4",
    "openai", "anthropic", "claude", "bard", "palm", "lamda", "google", "llama", "qianwan", "alibaba",
    "mistral", "zhipu", "keg lab", "01.ai", "ai2", "tülu",
)  # fmt: skip
# The error texts FastChat's list also holds: a vote on a failed answer says nothing about the models
ERROR_MARKERS = (
    "network error due to high traffic. please regenerate or refresh this page.",
    "$moderation$ your input violates our content moderation guidelines.",
    "api request error. please increase the number of max tokens.",
    "**api request error**",
)
ANONYMOUS_NAMES = ("", "Model A", "Model B")

Messages = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class LoggedBattle:
    conv_id: str
    model_a: str
    model_b: str
    shown: tuple[str, str]  # the names the page showed when the vote was cast
    served: tuple[str, str]  # the models that answered (the states' model_name)
    winner: str
    mode: str  # a BattleMode
    ip: str | None
    tstamp: float
    messages_a: Messages
    messages_b: Messages


def _remove_html(raw: str) -> str:
    """FastChat shows named models as ``<h3>Model A: name</h3>``; the name alone."""
    if raw.startswith("<h3>"):
        return raw[raw.find(": ") + 2 : -len("</h3>\n")]
    return raw


def _messages(state: Mapping[str, object], side: str) -> Messages:
    raw, offset = state.get("messages"), state.get("offset", 0)
    if not isinstance(raw, list) or not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise RowProblem(f"state {side}: messages must be a list and offset a whole number")
    if offset >= len(raw):
        raise RowProblem(f"state {side}: no message after the offset (the conversation is empty)")
    out = []
    for i, m in enumerate(raw[offset : offset + MAX_MESSAGES]):
        if not isinstance(m, list) or len(m) != 2:
            raise RowProblem(f"state {side}: a message is not a [role, text] pair")
        if m[1] is None:  # an answer still being generated when the record was written
            continue
        if not isinstance(m[1], str):
            raise RowProblem(f"state {side}: a message's text is not text")
        out.append(("user" if i % 2 == 0 else "assistant", m[1]))
    return tuple(out)


def _name(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise RowProblem(f"{what} must be a string, got {value!r}"[:200])
    if len(value) > MAX_NAME:
        raise RowProblem(f"{what} is longer than {MAX_NAME} characters")
    return value


def parse_vote(record: object) -> LoggedBattle | None:
    """The battle of a vote record; None for other records (chat, share, ...)."""
    if not isinstance(record, Mapping):
        raise RowProblem(f"a log record must be a JSON object, got {type(record).__name__}")
    winner = VOTE_TYPES.get(str(record.get("type")))
    if winner is None:
        return None
    models, states = record.get("models"), record.get("states")
    if not (isinstance(models, list) and len(models) == 2 and isinstance(states, list) and len(states) == 2):
        raise RowProblem("a vote record needs two models and two states")
    if not all(isinstance(s, Mapping) for s in states):
        raise RowProblem("a vote record's states must be objects")
    shown = (_remove_html(_name(models[0], "models[0]")), _remove_html(_name(models[1], "models[1]")))
    hidden = [states[i].get("model_name") for i in range(2)]
    served = tuple(
        _name(h, f"states[{i}].model_name") if h is not None else shown[i] for i, h in enumerate(hidden)
    )
    anony = shown[0] in ANONYMOUS_NAMES
    a, b = served if anony else shown
    if not a or not b:
        raise RowProblem("a vote record names no model for a side")
    if a == b:
        raise RowProblem(f"both sides are the same model ({a!r})")
    conv_id = states[0].get("conv_id")
    if not isinstance(conv_id, str) or not conv_id or len(conv_id) > MAX_NAME - 10:
        raise RowProblem("states[0].conv_id must be a non-empty string")
    ip = record.get("ip")
    return LoggedBattle(
        conv_id=conv_id,
        model_a=a,
        model_b=b,
        shown=(shown[0], shown[1]),
        served=(served[0], served[1]),
        winner=winner,
        mode=BattleMode.ANONY.value if anony else BattleMode.NAMED.value,
        ip=ip if isinstance(ip, str) and ip else None,
        tstamp=tstamp_seconds(record.get("tstamp")),
        messages_a=_messages(states[0], "a"),
        messages_b=_messages(states[1], "b"),
    )


def exclusion(b: LoggedBattle, extra_words: Iterable[str] = ()) -> str | None:
    """FastChat's cleaning rules (see the module docstring): the reason to exclude the vote, or None."""
    one_shown = (b.shown[0] in ANONYMOUS_NAMES) != (b.shown[1] in ANONYMOUS_NAMES)
    if one_shown or (b.mode == BattleMode.NAMED.value and b.shown != b.served):
        return ExcludedReason.INVALID_NAMES.value
    text = "".join(t.lower() for _, t in (*b.messages_a, *b.messages_b))
    if any(m in text for m in ERROR_MARKERS):
        return ExcludedReason.ERROR_MARKER.value
    words = (*IDENTITY_WORDS, *(w.lower() for w in extra_words if w))
    if any(w in text for w in words):
        return ExcludedReason.IDENTITY_LEAK.value
    return None
