"""The parameter sliders start at each model's recommended_config, and what is stored is what ran."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import choose, open_tab, send, wait_answers_done
from tests.e2e.harness import RunningApp
from tests.e2e.helpers import marker

pytestmark = pytest.mark.browser

DONE_TEXT = "in several small pieces."
# harness.endpoint_mapping: Papaya-Chat recommends 0 / 1 / 300, Guava-Chat 0.9 / 0.8 / 200
PAPAYA = {"temperature": 0.0, "top_p": 1.0, "max_new_tokens": 300}
GUAVA = {"temperature": 0.9, "top_p": 0.8, "max_new_tokens": 200}


def expect_sliders(page: Any, prefix: str, expected: dict[str, float]) -> None:
    if not page.locator(f"#{prefix}-temperature").is_visible():
        page.click(f"#{prefix}-params .label-wrap")  # open the accordion (its content renders when open)
    for name, key in (("temperature", "temperature"), ("top-p", "top_p"), ("max-tokens", "max_new_tokens")):
        expect(page.locator(f"#{prefix}-{name} input[type=number]")).to_have_value(
            f"{expected[key]:g}" if key != "max_new_tokens" else str(int(expected[key]))
        )


def stored(app: RunningApp, conversation_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A conversation's params and those of each of its answers."""
    conv = app.rows("SELECT params FROM conversations WHERE id = :c", c=conversation_id)[0]["params"]
    answers = app.rows(
        "SELECT params FROM messages WHERE conversation_id = :c AND role = 'assistant'", c=conversation_id
    )

    def decode(v: Any) -> dict[str, Any]:
        return json.loads(v) if isinstance(v, str) else dict(v)

    return decode(conv), [decode(a["params"]) for a in answers]


def test_side_by_side_sliders_follow_each_model_and_store_what_ran(
    page: Any, running_app: RunningApp
) -> None:
    app, mk = running_app, marker()
    open_tab(page, "sbs")
    expect_sliders(page, "sbs-a", PAPAYA)  # the first model in the list is preselected on side A
    choose(page, "sbs-model-a", "Guava-Chat")
    choose(page, "sbs-model-b", "Papaya-Chat")
    expect_sliders(page, "sbs-a", GUAVA)
    expect_sliders(page, "sbs-b", PAPAYA)
    expect(page.locator("#sbs-a-params-note")).to_contain_text("Recommended settings of Guava-Chat")
    n_oa = len(app.openai.requests)
    send(page, "sbs", f"params please {mk}")
    wait_answers_done(page, "sbs", ("sbs-chatbot-a", "sbs-chatbot-b"), DONE_TEXT)
    battle = app.battle_for_message(mk)
    for conv, expected in ((battle["conversation_a_id"], GUAVA), (battle["conversation_b_id"], PAPAYA)):
        conv_params, answer_params = stored(app, conv)
        assert conv_params == expected
        assert answer_params == [expected]
    sent = app.openai.requests[n_oa].body  # Papaya-Chat is the openai one
    assert (sent["temperature"], sent["max_tokens"]) == (0.0, 300)
    page.click("#sbs-vote-tie")
    expect(page.locator("#sbs-reveal")).to_contain_text(
        "ran with temperature 0.9, top p 0.8, at most 200 tokens"
    )


def test_direct_chat_sliders_follow_the_model_and_a_change_is_said(
    page: Any, running_app: RunningApp
) -> None:
    app, mk = running_app, marker()
    open_tab(page, "chat")
    choose(page, "chat-model", "Guava-Chat")
    expect_sliders(page, "chat", GUAVA)
    choose(page, "chat-model", "Papaya-Chat")
    expect_sliders(page, "chat", PAPAYA)
    page.locator("#chat-temperature input[type=number]").fill("0.5")
    page.locator("#chat-temperature input[type=number]").press("Enter")
    expect(page.locator("#chat-params-note")).to_contain_text("temperature 0.5 (recommended 0)")
    send(page, "chat", f"greedy hello {mk}")
    wait_answers_done(page, "chat", ("chat-chatbot",), DONE_TEXT)
    conv = app.rows("SELECT conversation_id FROM messages WHERE content LIKE :p", p=f"%{mk}%")[0]
    conv_params, answer_params = stored(app, conv["conversation_id"])
    assert conv_params == {**PAPAYA, "temperature": 0.5} and answer_params == [conv_params]
