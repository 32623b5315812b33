"""Identity-leak word matching: word boundaries, case-insensitive, multi-word names."""

from __future__ import annotations

from arena_app.services.identity import IdentityDetector


def test_word_boundaries_and_case() -> None:
    d = IdentityDetector(["gpt-4o", "Claude", "meta ai", "x"])
    assert d.find("I am CLAUDE, made by Anthropic.") == ["Claude"]
    assert d.find("Claudette is a name") == []
    assert d.find("gpt-4o-mini here") == ["gpt-4o"]  # '-' is not a word character
    assert d.find("gpt-4oo") == []
    assert d.find("Built by Meta\n AI.") == ["meta ai"]
    assert d.find("x marks the spot") == []  # one-letter words are ignored (too generic)
    assert d.leaks(["nothing", "claude and GPT-4O"]) == ["Claude", "gpt-4o"]


def test_empty_list_finds_nothing() -> None:
    assert IdentityDetector([]).find("anything at all") == []
