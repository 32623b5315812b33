"""Helpers for answers and messages: style counts, stored parameters, provider messages, input checks."""

from __future__ import annotations

from collections.abc import Sequence

from arena_app.providers.base import ChatMessage, GenerationParams
from arena_app.services.errors import InputRejected
from arena_app.services.live_answers import SideOutcome
from arena_app.storage.records import StyleCounts


def style_of(text: str, output_tokens: int | None) -> StyleCounts:
    """Style features of an answer (leaderboard.style.count_style) plus its length in tokens.

    The token count is the upstream's usage report when there is one, else a whitespace-word estimate
    (partial answers cut by Stop or an error have no usage report).
    """
    from leaderboard.style import count_style  # lazy: keeps import time of the services low

    counts = count_style(text)
    tokens = output_tokens if output_tokens is not None else len(text.split())
    return StyleCounts(
        tokens=tokens,
        headers=int(counts.headers),
        lists=int(counts.lists),
        bold=int(counts.bold),
        has_code=bool(counts.has_code),
    )


def token_count(outcome: SideOutcome) -> int:
    return outcome.output_tokens if outcome.output_tokens is not None else len(outcome.text.split())


def params_record(params: GenerationParams) -> dict[str, object]:
    """The user-facing generation parameters as stored on a conversation, battle or answer."""
    return {"temperature": params.temperature, "top_p": params.top_p, "max_new_tokens": params.max_new_tokens}


def params_text(params: GenerationParams) -> str:
    """``temperature 0, top p 1, at most 256 tokens``: the parameters as a visitor reads them."""
    return (
        f"temperature {params.temperature:g}, top p {params.top_p:g}, "
        f"at most {params.max_new_tokens:,} tokens"
    )


def history_messages(turns: Sequence[tuple[str, str | None]], next_user: str | None) -> list[ChatMessage]:
    """Provider messages for one side: past (user, answer) pairs, then ``next_user`` if given.

    Pairs whose answer is None or empty (not answered, or stopped before the first token) contribute only
    the user message; consecutive user messages are then joined, because some APIs (Anthropic) require
    user and assistant turns to alternate and refuse empty assistant content.
    """
    messages: list[ChatMessage] = []

    def add_user(text: str) -> None:
        if messages and messages[-1].role == "user":
            messages[-1] = ChatMessage(role="user", content=messages[-1].content + "\n\n" + text)
        else:
            messages.append(ChatMessage(role="user", content=text))

    for user, answer in turns:
        add_user(user)
        if answer:
            messages.append(ChatMessage(role="assistant", content=answer))
    if next_user is not None:
        add_user(next_user)
    return messages


def sentence(text: str) -> str:
    """``text`` ending with sentence punctuation, so messages can be joined."""
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def displayable(text: str) -> str:
    """``text`` with any unpaired surrogate replaced by U+FFFD, so it can be sent back as JSON (a refused
    message is put back into the input box)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def check_input(text: str, max_chars: int, turns_done: int, max_turns: int) -> str:
    """Validate a new user message; returns it stripped or raises :class:`InputRejected`.

    A NUL character or an unpaired surrogate (possible through the API, never typed) is refused: neither
    is text a model can read, PostgreSQL cannot store NUL, and no database can store half a character."""
    if not isinstance(text, str):
        raise InputRejected("A message must be text.")
    cleaned = text.strip()
    if not cleaned:
        raise InputRejected("Type a message first.")
    if "\x00" in cleaned:
        raise InputRejected("Your message contains a NUL character (U+0000); remove it (nothing was sent).")
    if displayable(cleaned) is not cleaned:
        raise InputRejected(
            "Your message contains an unpaired UTF-16 surrogate (half of a character, e.g. a broken emoji); "
            "remove it (nothing was sent)."
        )
    if len(cleaned) > max_chars:
        raise InputRejected(
            f"Your message is {len(cleaned):,} characters long; the limit is {max_chars:,}. "
            "Please shorten it (nothing was sent)."
        )
    if turns_done >= max_turns:
        raise InputRejected(
            f"This conversation reached the limit of {max_turns} turns. Vote or start a new round."
        )
    return cleaned
