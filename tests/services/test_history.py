"""Provider message history built from a conversation's turns."""

from __future__ import annotations

from arena_app.services.answers import history_messages


def test_history_alternates_and_skips_empty_answers() -> None:
    msgs = history_messages([("one", "a1"), ("two", ""), ("three", None)], "four")
    assert [(m.role, m.content) for m in msgs] == [
        ("user", "one"),
        ("assistant", "a1"),
        ("user", "two\n\nthree\n\nfour"),
    ]
    assert [m.content for m in history_messages([], "hi")] == ["hi"]
