"""The anonymous battle in a real browser: streams, vote, reveal, double vote, XSS, one side failing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import BOT, USER, WATCH_STREAMS, last_answer, send, wait_answers_done
from tests.e2e.harness import RunningApp
from tests.e2e.helpers import marker
from tests.fakes.openai_server import Reply

pytestmark = pytest.mark.browser

VOTES = ("#battle-vote-a", "#battle-vote-b", "#battle-vote-tie", "#battle-vote-bothbad")
CHATBOTS = ("battle-chatbot-a", "battle-chatbot-b")
DONE_TEXT = "in several small pieces."
# After several vote clicks the status shows whichever response came last: the accepted vote, or a refusal
# of a later click by the session state ("already voted") or, when clicks raced past that check, by the
# database's one-vote-per-battle constraint ("already has a vote").
VOTE_SETTLED = re.compile("vote was recorded|already voted|already has a vote")


def _hidden_in_page(page: Any, app: RunningApp) -> list[str]:
    html = page.content().lower()
    return [h for h in app.hidden if h in html]


def test_full_anonymous_battle(page: Any, running_app: RunningApp) -> None:
    app, mk = running_app, marker()
    page.evaluate(WATCH_STREAMS, list(CHATBOTS))
    for vote in VOTES:
        expect(page.locator(vote)).to_be_disabled()

    send(page, "battle", f"Which fruit do you like? {mk}")
    expect(page.locator(f"#battle-chatbot-a {USER}").last).to_contain_text(mk)
    wait_answers_done(page, "battle", CHATBOTS, DONE_TEXT)

    lengths = page.evaluate("window.__lengths")
    for chatbot in CHATBOTS:  # each side was seen growing, not just appearing at once
        assert len([n for n in lengths[chatbot] if n > 0]) >= 3, lengths
    for vote in VOTES:
        expect(page.locator(vote)).to_be_enabled()
    expect(page.locator("#battle-status")).to_contain_text("Both answers are in")
    assert _hidden_in_page(page, app) == []  # no model name, key or URL in the page before the vote

    side_a_text = last_answer(page, "battle-chatbot-a").inner_text()
    zephyrine_side = "a" if "kiwi" in side_a_text else "b"
    page.click(f"#battle-vote-{zephyrine_side}")

    reveal = page.locator("#battle-reveal")
    expect(reveal).to_contain_text("Zephyrine-7B")
    expect(reveal).to_contain_text("Quillion-Large")
    expect(reveal).to_contain_text("time to first token")
    expect(page.locator("#battle-status")).to_contain_text(VOTE_SETTLED)
    expect(page.locator("#battle-input textarea")).to_be_disabled()
    for vote in VOTES:
        expect(page.locator(vote)).to_be_disabled()

    battle = app.battle_for_message(mk)
    expected_a = "Zephyrine-7B" if zephyrine_side == "a" else "Quillion-Large"
    assert battle["mode"] == "anony" and battle["model_a"] == expected_a
    assert {battle["model_a"], battle["model_b"]} == {"Zephyrine-7B", "Quillion-Large"}
    votes = app.vote_rows(battle["id"])
    assert [(v["outcome"], v["excluded_reason"]) for v in votes] == [(f"model_{zephyrine_side}", None)]
    reveal_text = reveal.inner_text()
    assert reveal_text.index("Model A") < reveal_text.index(expected_a) < reveal_text.index("Model B")

    page.click("#battle-new-round")
    expect(page.locator("#battle-reveal")).to_have_text("")
    expect(page.locator("#battle-input textarea")).to_be_enabled()
    expect(page.locator(f"#battle-chatbot-a {BOT}")).to_have_count(0)
    assert page.page_errors == []


def test_double_vote_is_rejected(page: Any, running_app: RunningApp) -> None:
    app, mk = running_app, marker()
    send(page, "battle", f"double vote {mk}")
    wait_answers_done(page, "battle", CHATBOTS, DONE_TEXT)
    joins: list[str] = []
    page.on("request", lambda r: joins.append(r.url) if "/queue/join" in r.url else None)
    # Four vote clicks dispatched in the same tick, before any response can disable the buttons.
    page.evaluate("(ids) => { for (const id of ids) document.querySelector(id).click(); }", list(VOTES))
    expect(page.locator("#battle-reveal")).to_contain_text("Zephyrine-7B")
    for vote in VOTES:
        expect(page.locator(vote)).to_be_disabled()
    assert len(joins) >= 2, joins  # several vote requests really reached the server
    battle = app.battle_for_message(mk)
    votes = app.vote_rows(battle["id"])
    assert len(votes) == 1
    expect(page.locator("#battle-status")).to_contain_text(VOTE_SETTLED)


XSS_MODEL_ANSWER = Reply(
    chunks=[
        "Look: ",
        '<img src=x onerror="window.__xss=1">',
        " and ",
        "<script>window.__xss=2</script>",
        " and [a link](javascript:window.__xss=3) ",
        '<a href="#" onclick="window.__xss=4">click</a>',
        " done.",
    ]
)


def test_xss_in_user_input_and_model_output_is_inert(page: Any, running_app: RunningApp) -> None:
    app, mk = running_app, marker()
    user_payload = f'{mk} <img src=x onerror="window.__xss=1"> <script>window.__xss=2</script>'
    with (
        app.upstream.override("zephyrine-upstream", XSS_MODEL_ANSWER),
        app.upstream.override("quillion-upstream", XSS_MODEL_ANSWER),
    ):
        send(page, "battle", user_payload)
        wait_answers_done(page, "battle", CHATBOTS, "done.")

    assert page.evaluate("typeof window.__xss") == "undefined"
    for chatbot in CHATBOTS:
        root = f"#{chatbot}"
        assert page.locator(f"{root} [onerror], {root} [onclick]").count() == 0
        assert page.locator(f"{root} .message-content img, {root} .message-content script").count() == 0
        assert page.locator(f'{root} a[href^="javascript"]').count() == 0
        # The payloads are shown as text, not dropped silently.
        expect(page.locator(f"{root} {USER}").last).to_contain_text('<img src=x onerror="window.__xss=1">')
        expect(last_answer(page, chatbot)).to_contain_text("<script>window.__xss=2</script>")
    # Clicking the rendered link text must not run anything either.
    links = page.locator("#battle-chatbot-a .message-content a")
    for i in range(links.count()):
        links.nth(i).click()
    assert page.evaluate("typeof window.__xss") == "undefined"
    stored = app.rows("SELECT content FROM messages WHERE content LIKE :p", p=f"%{mk}%")
    assert stored and "<script>" in stored[0]["content"]  # stored verbatim; only rendering is escaped


def test_error_on_one_side_disables_vote_and_names_the_side(page: Any, running_app: RunningApp) -> None:
    app, mk = running_app, marker()
    with app.upstream.override("zephyrine-upstream", Reply.error(500, "upstream exploded")):
        send(page, "battle", f"fail please {mk}")
        expect(page.locator("#battle-status")).to_contain_text("cannot be voted")
    battle = app.battle_for_message(mk)
    failed, ok = ("a", "b") if battle["model_a"] == "Zephyrine-7B" else ("b", "a")
    label = f"Model {failed.upper()}"
    expect(page.locator("#battle-status")).to_contain_text(f"{label}'s server failed (HTTP 500)")
    expect(last_answer(page, f"battle-chatbot-{failed}")).to_contain_text("server failed")
    expect(last_answer(page, f"battle-chatbot-{ok}")).to_contain_text("mango")
    for vote in VOTES:
        expect(page.locator(vote)).to_be_disabled()
    assert "zephyrine" not in page.content().lower()
    expect(page.locator("#battle-regenerate")).to_be_enabled()
    expect(page.locator("#battle-send")).to_be_disabled()  # no new turn on top of a failed one

    page.click("#battle-regenerate")  # upstream healthy again
    wait_answers_done(page, "battle", CHATBOTS, DONE_TEXT)
    for vote in VOTES:
        expect(page.locator(vote)).to_be_enabled()
    assert app.vote_rows(battle["id"]) == []
