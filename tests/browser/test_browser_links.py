"""Deep links, the address following the tab, and share links of voted battles, in a real browser."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import open_tab, send, wait_answers_done
from tests.e2e.harness import RunningApp
from tests.e2e.helpers import marker

pytestmark = pytest.mark.browser

DONE_TEXT = "in several small pieces."
SELECTED = "#main-tabs button[role=tab][aria-selected=true]"


@pytest.mark.parametrize(
    ("query", "tab_label"),
    [
        ("?tab=leaderboard", "Leaderboard"),
        ("?leaderboard", "Leaderboard"),
        ("?about", "About"),
        ("?compare", "Arena (side-by-side)"),
        ("?direct", "Direct chat"),
        ("?arena", "Arena (battle)"),
        ("?tab=sbs", "Arena (side-by-side)"),
    ],
)
def test_deep_link_opens_its_tab(page: Any, running_app: RunningApp, query: str, tab_label: str) -> None:
    page.goto(running_app.url + query)
    expect(page.locator(SELECTED)).to_have_text(re.compile(re.escape(tab_label)))


def test_model_link_preselects_direct_chat_with_its_settings(page: Any, running_app: RunningApp) -> None:
    page.goto(running_app.url + "?model=Guava-Chat")
    expect(page.locator(SELECTED)).to_have_text(re.compile("Direct chat"))
    expect(page.locator("#chat-model input")).to_have_value("Guava-Chat")
    page.click("#chat-params .label-wrap")
    expect(page.locator("#chat-temperature input[type=number]")).to_have_value("0.9")


def test_address_follows_the_selected_tab(page: Any, running_app: RunningApp) -> None:
    open_tab(page, "leaderboard")
    page.wait_for_url(re.compile(r"\?tab=leaderboard$"))
    open_tab(page, "about")
    page.wait_for_url(re.compile(r"\?tab=about$"))
    page.reload()  # the address now opens the same tab
    expect(page.locator(SELECTED)).to_have_text(re.compile("About"))
    open_tab(page, "battle")
    page.wait_for_url(re.compile(r"\?tab=battle$"))


def test_share_link_only_after_the_vote_and_a_guessed_one_is_refused(
    page: Any, running_app: RunningApp, browser: Any
) -> None:
    app, mk = running_app, marker()
    send(page, "battle", f"share me {mk}")
    wait_answers_done(page, "battle", ("battle-chatbot-a", "battle-chatbot-b"), DONE_TEXT)
    expect(page.locator("#battle-share a")).to_have_count(0)  # no link before the vote
    page.click("#battle-vote-b")
    link = page.locator("#battle-share a")
    expect(link).to_have_count(1)
    href = link.get_attribute("href")
    assert href is not None and href.startswith("?share=")
    token = href.removeprefix("?share=")
    battle = app.battle_for_message(mk)
    assert token.startswith(f"{battle['id']}-")

    other = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    try:
        other.goto(app.url + href)
        view = other.locator("#shared-battle")
        expect(view).to_contain_text(f"share me {mk}")
        expect(view).to_contain_text(battle["model_a"])
        expect(view).to_contain_text(battle["model_b"])
        expect(view).to_contain_text("preferred model B")
        page_text = other.content()
        for secret in (battle["session_id"], battle["client_hash"]):
            assert secret not in page_text  # never the judge
        # a guessed tag for the same battle, and the real tag on another battle id, are both refused
        for forged in (f"{battle['id']}-{'0' * 32}", f"{battle['id'] + 1}-{token.split('-')[1]}"):
            other.goto(app.url + f"?share={forged}")
            expect(other.locator("#shared-missing")).to_contain_text("does not exist")
            assert f"share me {mk}" not in other.content()
    finally:
        other.context.close()
