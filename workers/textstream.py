"""Token ids -> text deltas, and stop strings, for one streamed request."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class IncrementalDetokenizer:
    """Decodes a growing list of token ids into text deltas.

    Decoding token by token breaks multi-byte characters and byte-level BPE merges, so each step decodes a
    small window (from ``prefix`` to the end) and emits only the part past what was already emitted; text
    ending in the replacement character (an incomplete UTF-8 sequence) is held back until the next token
    completes it.
    Special tokens (EOS and the like) never reach the text.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._ids: list[int] = []
        self._prefix = 0  # start of the decode window
        self._read = 0  # ids up to here are already emitted as text

    def _decode(self, ids: list[int]) -> str:
        return str(self._tokenizer.decode(ids, skip_special_tokens=True))

    def push(self, new_ids: Iterable[int]) -> str:
        """Add token ids; return the text they complete (possibly empty)."""
        self._ids.extend(new_ids)
        prefix_text = self._decode(self._ids[self._prefix : self._read])
        full_text = self._decode(self._ids[self._prefix :])
        if len(full_text) > len(prefix_text) and not full_text.endswith("\ufffd"):
            self._prefix = self._read
            self._read = len(self._ids)
            return full_text[len(prefix_text) :]
        return ""

    def flush(self) -> str:
        """Text still held back at the end of generation (an incomplete character is emitted as is)."""
        prefix_text = self._decode(self._ids[self._prefix : self._read])
        full_text = self._decode(self._ids[self._prefix :])
        self._prefix = self._read = len(self._ids)
        return full_text[len(prefix_text) :]


class StopMatcher:
    """Finds the first stop string in streamed text without ever emitting part of it.

    ``push(text)`` returns ``(safe_text, stopped)``: the text that can be sent now, and whether a stop string
    was found (then ``safe_text`` ends right before it and nothing more may be sent). Up to
    ``len(longest stop) - 1`` characters are held back while they are the start of a stop string;
    ``flush()`` releases them.
    """

    def __init__(self, stops: Iterable[str]) -> None:
        self._stops = [s for s in stops if s]
        self._hold = max((len(s) for s in self._stops), default=1) - 1
        self._pending = ""

    def push(self, text: str) -> tuple[str, bool]:
        if not self._stops:
            return text, False
        self._pending += text
        hits = [i for i in (self._pending.find(s) for s in self._stops) if i >= 0]
        if hits:
            cut = min(hits)
            safe, self._pending = self._pending[:cut], ""
            return safe, True
        keep = self._partial_stop_length()
        safe, self._pending = (
            self._pending[: len(self._pending) - keep],
            self._pending[len(self._pending) - keep :],
        )
        return safe, False

    def _partial_stop_length(self) -> int:
        """Length of the longest end of the pending text that is the start of a stop string."""
        for length in range(min(self._hold, len(self._pending)), 0, -1):
            tail = self._pending[-length:]
            if any(stop.startswith(tail) for stop in self._stops):
                return length
        return 0

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return rest
