"""Side-by-side, direct chat and leaderboard tabs through the real server with gradio_client."""

from __future__ import annotations

from gradio_client import Client

from tests.e2e.harness import RunningApp
from tests.e2e.helpers import CHAT_BOT, CHAT_STATUS, REVEAL, STATUS, last_answer, marker, plain


def test_side_by_side_named_battle_with_parameters_and_vote(running_app: RunningApp) -> None:
    app, mk = running_app, marker()
    client = Client(app.url, verbose=False)
    n_oa, n_an = len(app.openai.requests), len(app.anthropic.requests)
    # each side has its own sliders: A runs at 0.3 / 0.8 / 64, B at 0.6 / 0.7 / 48
    final = client.predict(
        f"compare {mk}", "Guava-Chat", "Papaya-Chat", 0.3, 0.8, 64, 0.6, 0.7, 48, api_name="/sbs_send"
    )
    assert "cherry" in plain(last_answer(final[1]))  # side A: Guava-Chat (anthropic)
    assert "lemon" in plain(last_answer(final[2]))  # side B: Papaya-Chat (openai)
    sent_oa = app.openai.requests[n_oa].body
    sent_an = app.anthropic.requests[n_an].body
    assert (sent_oa["model"], sent_oa["temperature"], sent_oa["top_p"], sent_oa["max_tokens"]) == (
        "papaya-upstream",
        0.6,
        0.7,
        48,
    )
    assert (sent_an["model"], sent_an["temperature"], sent_an["top_p"], sent_an["max_tokens"]) == (
        "guava-upstream",
        0.3,
        0.8,
        64,
    )

    voted = client.predict(api_name="/sbs_vote_b")
    assert "vote was recorded" in voted[STATUS]
    assert "Guava-Chat" in voted[REVEAL].replace("\\", "")
    battle = app.battle_for_message(mk)
    assert (battle["mode"], battle["model_a"], battle["model_b"]) == ("named", "Guava-Chat", "Papaya-Chat")
    assert [v["outcome"] for v in app.vote_rows(battle["id"])] == ["model_b"]
    for conv, expected in (
        (battle["conversation_a_id"], ("0.3", "64")),
        (battle["conversation_b_id"], ("0.6", "48")),
    ):
        params = str(app.rows("SELECT params FROM conversations WHERE id = :c", c=conv)[0]["params"])
        assert all(value in params for value in expected), params


def test_side_by_side_rejects_a_model_outside_the_list(running_app: RunningApp) -> None:
    """The public API is callable directly: a battle-only (hidden) model cannot be requested by name."""
    app, mk = running_app, marker()
    client = Client(app.url, verbose=False)
    n_requests = len(app.openai.requests) + len(app.anthropic.requests)
    try:
        result = client.predict(
            f"sneak {mk}", "Zephyrine-7B", "Papaya-Chat", 0.7, 1.0, 64, 0.7, 1.0, 64, api_name="/sbs_send"
        )
    except Exception as exc:  # Gradio refuses a value outside the dropdown choices
        assert "Zephyrine-7B" in str(exc) or "choices" in str(exc).lower()
    else:
        assert "kiwi" not in repr(result)
        assert "⚠️" in result[STATUS]
    assert len(app.openai.requests) + len(app.anthropic.requests) == n_requests
    assert app.rows("SELECT id FROM messages WHERE content LIKE :p", p=f"%{mk}%") == []


def test_direct_chat_streams_and_feedback_is_stored(running_app: RunningApp) -> None:
    app, mk = running_app, marker()
    client = Client(app.url, verbose=False)
    job = client.submit(f"hello {mk}", "Papaya-Chat", 0.5, 0.9, 128, api_name="/chat_send")
    updates = list(job)
    final = job.result()
    assert len({len(plain(last_answer(u[CHAT_BOT]))) for u in updates}) >= 3  # streamed
    assert "lemon" in plain(last_answer(final[CHAT_BOT]))

    up = client.predict(api_name="/chat_upvote")
    assert "upvote recorded" in up[CHAT_STATUS].lower()
    flagged = client.predict(api_name="/chat_flag")
    assert "flag" in flagged[CHAT_STATUS].lower()

    rows = app.rows(
        "SELECT f.kind, m.role, m.content, c.model_name, c.mode FROM feedback f "
        "JOIN messages m ON m.id = f.message_id JOIN conversations c ON c.id = m.conversation_id "
        "WHERE c.id = (SELECT conversation_id FROM messages WHERE content LIKE :p)",
        p=f"%{mk}%",
    )
    assert sorted(r["kind"] for r in rows) == ["flag", "upvote"]
    for r in rows:
        assert r["role"] == "assistant" and "lemon" in r["content"] and r["model_name"] == "Papaya-Chat"


def test_leaderboard_reads_the_latest_snapshot(running_app: RunningApp) -> None:
    from arena_app.services.leaderboard_service import RecomputeParams, recompute
    from arena_app.storage import api
    from arena_app.storage.db import session_scope
    from leaderboard.compute import ComputeParams

    app = running_app
    client = Client(app.url, verbose=False)
    # Seed counted anonymous votes: Zephyrine wins 6 of 8 against Quillion.
    with session_scope(app.services.session_factory) as s:
        for i in range(8):
            battle = api.create_battle(
                s,
                mode="anony",
                model_a="Zephyrine-7B",
                model_b="Quillion-Large",
                session_id=f"seed{i}",
                client_hash=f"h{i}",
            )
            api.set_battle_turns(s, battle.id, 1)
            winner = "model_a" if i < 6 else "model_b"
            api.record_vote(
                s,
                battle_id=battle.id,
                outcome=winner,
                turn_count=1,
                session_id=f"seed{i}",
                client_hash=f"h{i}",
            )
    params = RecomputeParams(compute=ComputeParams(rounds=50, style_control=False))
    (snapshot,) = recompute(app.services.session_factory, params)
    assert snapshot.snapshot_id is not None

    summary, table, _category, *plots = client.predict(False, "overall", api_name="/leaderboard_view")
    assert f"{snapshot.vote_count:,}" in summary and "Models:** 2" in summary
    rows = table.split("<tr")[2:]  # skip the header row
    assert len(rows) == 2
    assert "Zephyrine-7B" in rows[0] and "Quillion-Large" in rows[1]  # sorted by rating
    assert 'href="https://example.org/zephyrine"' in rows[0]
    assert "Zephyr Labs" in rows[0] and "Apache-2.0" in rows[0]
    assert all(plot is not None for plot in plots)
