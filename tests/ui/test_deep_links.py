"""Deep links: the query string -> the tab (and direct-chat model) it opens."""

from __future__ import annotations

import pytest

from arena_app.ui.deep_links import DeepLink, follow_tab_js, resolve


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, DeepLink("battle", asked=False)),
        ({"tab": "leaderboard"}, DeepLink("leaderboard")),
        ({"tab": "LEADERBOARD"}, DeepLink("leaderboard")),
        ({"tab": "compare"}, DeepLink("sbs")),
        ({"arena": ""}, DeepLink("battle")),
        ({"compare": ""}, DeepLink("sbs")),
        ({"direct": ""}, DeepLink("chat")),
        ({"chat": ""}, DeepLink("chat")),
        ({"leaderboard": ""}, DeepLink("leaderboard")),
        ({"about": ""}, DeepLink("about")),
        ({"model": "Papaya-Chat"}, DeepLink("chat", "Papaya-Chat")),
        ({"tab": "chat", "model": "Papaya-Chat"}, DeepLink("chat", "Papaya-Chat")),
        ({"tab": "about", "model": "Papaya-Chat"}, DeepLink("about")),  # model only means direct chat
        ({"share": "12-abc"}, DeepLink("shared", share="12-abc")),
        ({"tab": "nonsense"}, DeepLink("battle", asked=False)),
        ({"utm_source": "x"}, DeepLink("battle", asked=False)),
    ],
)
def test_query_selects_the_tab(query: dict[str, str], expected: DeepLink) -> None:
    assert resolve(query) == expected


def test_follow_script_writes_the_tab_and_keeps_only_the_chat_model() -> None:
    assert "p.set('tab', 'leaderboard')" in follow_tab_js("leaderboard")
    assert "['model']" in follow_tab_js("chat") and "['model']" not in follow_tab_js("about")
    assert "replaceState" in follow_tab_js("sbs")


def test_parse_query_keeps_bare_keys_and_the_first_value() -> None:
    from arena_app.ui.deep_links import parse_query

    assert parse_query("?leaderboard") == {"leaderboard": ""}
    assert parse_query("?tab=about&tab=chat&model=A%20B") == {"tab": "about", "model": "A B"}
    assert parse_query("") == {}
    assert resolve(parse_query("?model=Guava-Chat")) == DeepLink("chat", "Guava-Chat")
