"""Side-by-side, direct chat and leaderboard tabs in a real browser."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import choose, last_answer, open_tab, send, wait_answers_done
from tests.e2e.harness import RunningApp
from tests.e2e.helpers import marker

pytestmark = pytest.mark.browser

DONE_TEXT = "in several small pieces."


def test_named_battle(page: Any, running_app: RunningApp) -> None:
    app, mk = running_app, marker()
    open_tab(page, "sbs")
    choose(page, "sbs-model-a", "Guava-Chat")
    choose(page, "sbs-model-b", "Papaya-Chat")
    n_requests = len(app.openai.requests)
    send(page, "sbs", f"compare please {mk}")
    wait_answers_done(page, "sbs", ("sbs-chatbot-a", "sbs-chatbot-b"), DONE_TEXT)
    expect(last_answer(page, "sbs-chatbot-a")).to_contain_text("cherry")  # Guava-Chat
    expect(last_answer(page, "sbs-chatbot-b")).to_contain_text("lemon")  # Papaya-Chat
    assert app.openai.requests[n_requests].body["model"] == "papaya-upstream"

    page.click("#sbs-vote-a")
    expect(page.locator("#sbs-status")).to_contain_text("vote was recorded")
    expect(page.locator("#sbs-reveal")).to_contain_text("Guava-Chat")
    expect(page.locator("#sbs-vote-b")).to_be_disabled()
    battle = app.battle_for_message(mk)
    assert (battle["mode"], battle["model_a"], battle["model_b"]) == ("named", "Guava-Chat", "Papaya-Chat")
    assert [v["outcome"] for v in app.vote_rows(battle["id"])] == ["model_a"]


def test_direct_chat_with_feedback(page: Any, running_app: RunningApp) -> None:
    app, mk = running_app, marker()
    open_tab(page, "chat")
    choose(page, "chat-model", "Guava-Chat")
    expect(page.locator("#chat-downvote")).to_be_disabled()
    send(page, "chat", f"hello there {mk}")
    wait_answers_done(page, "chat", ("chat-chatbot",), DONE_TEXT)
    expect(last_answer(page, "chat-chatbot")).to_contain_text("cherry")
    expect(page.locator("#chat-downvote")).to_be_enabled()

    page.click("#chat-downvote")
    expect(page.locator("#chat-status")).to_contain_text("downvote recorded")
    rows = app.rows(
        "SELECT f.kind, m.content, c.model_name, c.mode FROM feedback f "
        "JOIN messages m ON m.id = f.message_id JOIN conversations c ON c.id = m.conversation_id "
        "WHERE c.id = (SELECT conversation_id FROM messages WHERE content LIKE :p)",
        p=f"%{mk}%",
    )
    assert [(r["kind"], r["model_name"]) for r in rows] == [("downvote", "Guava-Chat")]
    assert "cherry" in rows[0]["content"]


def _seed_votes(app: RunningApp, tag: str, n: int, *, answers: bool) -> None:
    """n counted anonymous votes, Quillion-Large winning 80% against Zephyrine-7B (20% ties).

    With ``answers``, each side gets a stored answer with style counts the way the services store them:
    different lengths and some bold text, but (as usual for short chat answers) no headers or lists.
    """
    from arena_app.storage import api
    from arena_app.storage.db import session_scope
    from arena_app.storage.records import StyleCounts

    now = datetime.now(UTC)
    with session_scope(app.services.session_factory) as s:
        for i in range(n):
            battle = api.create_battle(
                s,
                mode="anony",
                model_a="Quillion-Large",
                model_b="Zephyrine-7B",
                session_id=f"{tag}{i}",
                client_hash=f"{tag}h{i}",
            )
            if answers:
                for conv, tokens in (
                    (battle.conversation_a_id, 40 + i),
                    (battle.conversation_b_id, 25 + 2 * i),
                ):
                    api.add_user_message(s, conv, f"question {i}")
                    api.add_assistant_message(
                        s,
                        conv,
                        "an **answer**",
                        created_at=now,
                        finished_at=now,
                        ttft_s=0.1,
                        output_tokens=tokens,
                        finish_reason="stop",
                        style=StyleCounts(tokens=tokens, headers=0, lists=0, bold=i % 2, has_code=False),
                    )
            api.set_battle_turns(s, battle.id, 1)
            winner = "model_a" if i % 5 else "tie"
            api.record_vote(
                s,
                battle_id=battle.id,
                outcome=winner,
                turn_count=1,
                session_id=f"{tag}{i}",
                client_hash=f"{tag}h{i}",
            )


def test_leaderboard_renders_table_and_charts(page: Any, running_app: RunningApp) -> None:
    from arena_app.services.leaderboard_service import RecomputeParams, recompute
    from leaderboard.compute import ComputeParams

    app = running_app
    _seed_votes(app, "lb", 10, answers=False)
    (snapshot,) = recompute(
        app.services.session_factory, RecomputeParams(compute=ComputeParams(rounds=50, style_control=False))
    )
    assert snapshot.snapshot_id is not None

    open_tab(page, "leaderboard")
    page.click("#lb-refresh")
    rows = page.locator("#lb-table table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#lb-table table thead")).to_contain_text("Rank (UB)")
    expect(page.locator("#lb-table table thead")).to_contain_text("95% CI")
    expect(page.locator("#lb-summary")).to_contain_text(f"{snapshot.vote_count:,}")
    expect(rows.first).to_contain_text("Quillion-Large")  # 8 wins, 2 ties of this test's 10 votes
    expect(rows.nth(1).locator("a")).to_have_attribute("href", "https://example.org/zephyrine")
    expect(rows.nth(1)).to_contain_text("Zephyr Labs")
    for plot in ("lb-plot-winrate", "lb-plot-battle-count", "lb-plot-ci", "lb-plot-avg-winrate"):
        expect(page.locator(f"#{plot} .js-plotly-plot").first).to_be_visible()
        expect(page.locator(f"#{plot} svg.main-svg").first).to_be_visible()
    assert page.page_errors == []


def test_leaderboard_style_control_toggle(page: Any, running_app: RunningApp) -> None:
    """Realistic answers (no headers or lists anywhere) must not break the style-controlled fit."""
    from arena_app.services.leaderboard_service import RecomputeParams, recompute
    from leaderboard.compute import ComputeParams

    app = running_app
    _seed_votes(app, "lbs", 10, answers=True)
    (snapshot,) = recompute(
        app.services.session_factory, RecomputeParams(compute=ComputeParams(rounds=50, style_control=True))
    )
    assert snapshot.snapshot_id is not None
    open_tab(page, "leaderboard")
    page.locator("#lb-style-control input[type=checkbox]").check()
    expect(page.locator("#lb-summary")).to_contain_text("style-controlled")
    expect(page.locator("#lb-table table tbody tr")).to_have_count(2)


def test_about_tab_explains_method_and_privacy(page: Any) -> None:
    open_tab(page, "about")
    about = page.locator("#about-content")
    expect(about).to_be_visible()
    expect(about).to_contain_text("How ratings are computed")
    expect(about).to_contain_text("Bradley")
    expect(about).to_contain_text("salted hash")
    assert page.locator("#about-content .katex").count() > 0  # the formulas are typeset, not raw $...$
