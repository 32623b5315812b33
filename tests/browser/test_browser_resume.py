"""A page reload continues the battle (the browser keeps a signed token; the battle comes from the
database): before the vote with the names hidden, mid-answer with the partial answers shown as stopped,
after the vote with the reveal. "New round" forgets it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import BOT, USER, choose, last_answer, open_tab, send, wait_answers_done
from tests.e2e.harness import RunningApp
from tests.e2e.helpers import marker
from tests.fakes.openai_server import Reply

pytestmark = pytest.mark.browser

VOTES = ("#battle-vote-a", "#battle-vote-b", "#battle-vote-tie", "#battle-vote-bothbad")
CHATBOTS = ("battle-chatbot-a", "battle-chatbot-b")
DONE_TEXT = "in several small pieces."


def _reload(page: Any) -> None:
    page.reload()
    page.wait_for_selector("#battle-send")


def _hidden_in_page(page: Any, app: RunningApp) -> list[str]:
    html = page.content().lower()
    return [h for h in app.hidden if h in html]


def test_reload_resumes_the_battle_before_and_after_the_vote(page: Any, running_app: RunningApp) -> None:
    app, mk = running_app, marker()
    send(page, "battle", f"First question {mk}")
    wait_answers_done(page, "battle", CHATBOTS, DONE_TEXT)
    answers = [last_answer(page, c).inner_text() for c in CHATBOTS]

    _reload(page)
    for chatbot, answer in zip(CHATBOTS, answers, strict=True):
        expect(page.locator(f"#{chatbot} {USER}").last).to_contain_text(f"First question {mk}")
        expect(last_answer(page, chatbot)).to_have_text(answer)
    for vote in VOTES:
        expect(page.locator(vote)).to_be_enabled()
    expect(page.locator("#battle-reveal")).to_have_text("")
    assert _hidden_in_page(page, app) == []  # the names stay hidden before the vote

    send(page, "battle", "Second question")  # the resumed battle goes on
    expect(page.locator(f"#battle-chatbot-a {USER}")).to_have_count(2)
    wait_answers_done(page, "battle", CHATBOTS, DONE_TEXT)
    battle = app.battle_for_message(mk)
    assert battle["turn_count"] == 2  # the same battle, not a new one
    zephyrine_side = "a" if "kiwi" in last_answer(page, "battle-chatbot-a").inner_text() else "b"
    page.click(f"#battle-vote-{zephyrine_side}")
    expect(page.locator("#battle-reveal")).to_contain_text("Zephyrine-7B")

    _reload(page)
    reveal = page.locator("#battle-reveal")
    expect(reveal).to_contain_text("Zephyrine-7B")
    expect(reveal).to_contain_text("Quillion-Large")
    expect(page.locator("#battle-status")).to_contain_text("vote was recorded")
    expect(page.locator("#battle-input textarea")).to_be_disabled()
    for vote in VOTES:
        expect(page.locator(vote)).to_be_disabled()
    expect(page.locator(f"#battle-chatbot-a {USER}")).to_have_count(2)
    assert [v["outcome"] for v in app.vote_rows(battle["id"])] == [f"model_{zephyrine_side}"]

    page.click("#battle-new-round")
    expect(page.locator("#battle-reveal")).to_have_text("")
    _reload(page)  # a new round forgot the finished battle: the page stays empty
    expect(page.locator("#battle-send")).to_be_enabled()
    page.wait_for_timeout(1500)  # the resume event (if any) would have filled the chats by now
    expect(page.locator(f"#battle-chatbot-a {BOT}")).to_have_count(0)
    expect(page.locator("#battle-reveal")).to_have_text("")
    assert page.page_errors == []


def test_reload_mid_answer_shows_the_partial_answers_stopped_and_regenerate_finishes(
    page: Any, running_app: RunningApp
) -> None:
    app, mk = running_app, marker()
    long = " ".join(f"word{i}" for i in range(300))
    slow = Reply.text(long, chunk_delay=0.05)
    with app.upstream.override("zephyrine-upstream", slow), app.upstream.override("quillion-upstream", slow):
        send(page, "battle", f"Long story {mk}")
        for chatbot in CHATBOTS:
            expect(last_answer(page, chatbot)).to_contain_text("word3")
        _reload(page)
        for chatbot in CHATBOTS:
            expect(page.locator(f"#{chatbot} {USER}").last).to_contain_text(f"Long story {mk}")
            expect(last_answer(page, chatbot)).to_contain_text("(stopped)")
            expect(last_answer(page, chatbot)).to_contain_text("word0 word1")
            assert "word299" not in last_answer(page, chatbot).inner_text()
    battle = app.battle_for_message(mk)
    stored = app.rows(
        "SELECT finish_reason FROM messages WHERE role = 'assistant' AND conversation_id IN (:a, :b)",
        a=battle["conversation_a_id"],
        b=battle["conversation_b_id"],
    )
    assert [r["finish_reason"] for r in stored] == ["stopped", "stopped"]
    assert _hidden_in_page(page, app) == []
    expect(page.locator("#battle-regenerate")).to_be_enabled()

    page.click("#battle-regenerate")  # upstream back to short answers
    wait_answers_done(page, "battle", CHATBOTS, DONE_TEXT)
    page.click("#battle-vote-tie")
    expect(page.locator("#battle-reveal")).to_contain_text("Zephyrine-7B")
    assert [v["outcome"] for v in app.vote_rows(battle["id"])] == ["tie"]
    assert page.page_errors == []


def test_reload_resumes_a_side_by_side_battle_with_its_models(page: Any, running_app: RunningApp) -> None:
    app, mk = running_app, marker()
    chats = ("sbs-chatbot-a", "sbs-chatbot-b")
    open_tab(page, "sbs")
    choose(page, "sbs-model-a", "Papaya-Chat")
    choose(page, "sbs-model-b", "Guava-Chat")
    send(page, "sbs", f"compare please {mk}")
    wait_answers_done(page, "sbs", chats, DONE_TEXT)

    _reload(page)
    open_tab(page, "sbs")
    expect(last_answer(page, "sbs-chatbot-a")).to_contain_text("lemon")  # Papaya-Chat
    expect(last_answer(page, "sbs-chatbot-b")).to_contain_text("cherry")  # Guava-Chat
    expect(page.locator("#sbs-model-a input")).to_have_value("Papaya-Chat")  # the battle's models
    expect(page.locator("#sbs-model-b input")).to_have_value("Guava-Chat")
    send(page, "sbs", "and a second turn")  # accepted: the pickers match the battle's fixed models
    expect(page.locator(f"#sbs-chatbot-a {USER}")).to_have_count(2)
    wait_answers_done(page, "sbs", chats, DONE_TEXT)
    battle = app.battle_for_message(mk)
    assert battle["mode"] == "named" and battle["turn_count"] == 2
    assert (battle["model_a"], battle["model_b"]) == ("Papaya-Chat", "Guava-Chat")
    assert page.page_errors == []
