"""Deep links: which tab (and which direct-chat model) a page address asks for, and the script that keeps
the address in step with the selected tab.

Accepted: ``?tab=battle|sbs|chat|leaderboard|about`` (the form the page itself writes), FastChat's bare
keys ``?arena``, ``?compare``, ``?direct``, ``?leaderboard``, ``?about`` (and ``?battle``, ``?sbs``,
``?chat``), ``?model=<name>`` (direct chat with that model chosen) and ``?share=<token>`` (a shared battle,
see :mod:`arena_app.services.share`). Anything else opens the battle tab.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

#: tab id -> the words that select it (the id itself and FastChat's keys)
TAB_WORDS: dict[str, tuple[str, ...]] = {
    "battle": ("battle", "arena", "anony"),
    "sbs": ("sbs", "compare", "side-by-side", "named"),
    "chat": ("chat", "direct"),
    "leaderboard": ("leaderboard",),
    "about": ("about",),
}
TABS = tuple(TAB_WORDS)
_WORD_TO_TAB = {word: tab for tab, words in TAB_WORDS.items() for word in words}


@dataclass(frozen=True)
class DeepLink:
    tab: str  # one of TABS, or "shared"
    model: str | None = None  # direct chat: the model to choose (not yet checked against the list)
    share: str | None = None  # a shared battle's token (not yet checked)
    asked: bool = True  # False: nothing in the address chose a tab (the default tab)


def resolve(query: Mapping[str, str]) -> DeepLink:
    """The tab a query string selects. ``share`` wins, then ``tab=``, then ``model=``, then a bare key."""
    share = (query.get("share") or "").strip()
    if share:
        return DeepLink("shared", share=share[:200])
    model = (query.get("model") or "").strip()[:200] or None
    named = (query.get("tab") or "").strip().lower()
    if named in _WORD_TO_TAB:
        tab = _WORD_TO_TAB[named]
        return DeepLink(tab, model if tab == "chat" else None)
    if model:
        return DeepLink("chat", model)
    for key in query:
        bare = _WORD_TO_TAB.get(key.strip().lower())
        if bare is not None:
            return DeepLink(bare)
    return DeepLink("battle", asked=False)


#: The load event's input: the address's query as the page was opened (remembered by page_assets.HEAD
#: before the app mounted: its first tab event rewrites the address), or the current one.
INITIAL_QUERY_JS = "() => (window.__arenaInitialQuery ?? window.location.search)"


def parse_query(search: str) -> dict[str, str]:
    """``?a&tab=x`` -> ``{"a": "", "tab": "x"}`` (the first value of a repeated key wins; bounded)."""
    pairs = parse_qsl((search or "").lstrip("?")[:2000], keep_blank_values=True)
    query: dict[str, str] = {}
    for key, value in pairs[:20]:
        query.setdefault(key, value)
    return query


def follow_tab_js(tab: str) -> str:
    """Browser code run when ``tab`` is selected: the address becomes ``?tab=<tab>`` (history.replaceState,
    so Back still leaves the arena), keeping ``model=`` on the direct chat tab."""
    keep = "['model']" if tab == "chat" else "[]"
    return (
        "() => { const u = new URL(window.location.href); const keep = " + keep + ";"
        " const p = new URLSearchParams();"
        " for (const k of keep) { const v = u.searchParams.get(k); if (v) p.set(k, v); }"
        f" p.set('tab', '{tab}'); u.search = p.toString();"
        " window.history.replaceState(window.history.state, '', u.toString()); }"
    )
