"""Identity-leak detection: does an answer name a model or organization that is in the arena?

A battle vote whose answers reveal an identity is kept but excluded (``ExcludedReason.IDENTITY_LEAK``).
Matching is case-insensitive on word boundaries, so "Claude" matches "I am claude." but "gpt" does not
match "gptx"; a space inside a multi-word name matches any run of whitespace.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Words too generic to flag even if an operator lists them by accident (they would exclude every vote).
_MIN_WORD_LEN = 2


class IdentityDetector:
    """Finds mentions of known model/organization names in text."""

    def __init__(self, words: Iterable[str]) -> None:
        cleaned = sorted({w.strip() for w in words if len(w.strip()) >= _MIN_WORD_LEN}, key=len, reverse=True)
        self.words: tuple[str, ...] = tuple(cleaned)
        if cleaned:
            parts = [r"\s+".join(re.escape(p) for p in w.split()) for w in cleaned]
            # (?<!\w) / (?!\w) instead of \b so names ending in punctuation (e.g. "c++") still match.
            self._pattern: re.Pattern[str] | None = re.compile(
                r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE
            )
        else:
            self._pattern = None

    def find(self, text: str) -> list[str]:
        """The distinct words found in ``text`` (as written in the list), in order of first appearance."""
        if self._pattern is None or not text:
            return []
        found: list[str] = []
        lowered = {w.lower(): w for w in self.words}
        for match in self._pattern.finditer(text):
            key = " ".join(match.group(0).split()).lower()
            word = lowered.get(key, match.group(0))
            if word not in found:
                found.append(word)
        return found

    def leaks(self, texts: Iterable[str]) -> list[str]:
        """Distinct words found in any of ``texts``."""
        found: list[str] = []
        for text in texts:
            for word in self.find(text):
                if word not in found:
                    found.append(word)
        return found

    def mask(self, text: str, placeholder: str = "[hidden]") -> str:
        """``text`` with every known name replaced, for messages shown before an anonymous reveal."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(placeholder, text)
