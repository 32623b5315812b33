"""Arena (battle) tab through the real server with gradio_client: send, stream, vote, reveal, DB rows."""

from __future__ import annotations

import concurrent.futures

from gradio_client import Client

from tests.e2e.harness import ANSWER_WORD, BATTLE_MODELS, RunningApp
from tests.e2e.helpers import CHAT_A, CHAT_B, REVEAL, STATUS, last_answer, marker, messages, plain
from tests.fakes.openai_server import Reply

WORD_TO_MODEL = {ANSWER_WORD[up]: name for name, up in BATTLE_MODELS.items()}


def _side_models(final: tuple) -> tuple[str, str]:
    """Which model answered on each side, told by the word in its default answer."""
    sides = []
    for idx in (CHAT_A, CHAT_B):
        answer = plain(last_answer(final[idx]))
        found = [model for word, model in WORD_TO_MODEL.items() if word in answer]
        assert len(found) == 1, answer
        sides.append(found[0])
    return sides[0], sides[1]


def test_battle_streams_both_sides_and_vote_reveals_and_is_stored(running_app: RunningApp) -> None:
    app, mk = running_app, marker()
    client = Client(app.url, verbose=False)
    job = client.submit(f"Which fruit is best? {mk}", api_name="/battle_send")
    updates = list(job)
    final = job.result()

    # Both answers streamed: several updates, with partial answers growing on each side.
    assert len(updates) >= 4
    for idx in (CHAT_A, CHAT_B):
        lengths = [
            len(plain(last_answer(u[idx]))) for u in updates if messages(u[idx])[-1:][0][0] == "assistant"
        ]
        assert len(set(lengths)) >= 3, f"side {idx} did not stream: {lengths}"
    # Names stay hidden in every streamed update before the vote.
    for update in updates:
        blob = repr(update).lower()
        assert not [h for h in app.hidden if h in blob]
    assert final[REVEAL] == ""
    assert "Vote" in final[STATUS]

    model_a, model_b = _side_models(final)
    assert {model_a, model_b} == set(BATTLE_MODELS)
    winner_side = "a" if model_a == "Zephyrine-7B" else "b"  # vote for Zephyrine, wherever it sits
    voted = client.predict(api_name=f"/battle_vote_{winner_side}")

    assert "vote was recorded" in voted[STATUS]
    reveal = voted[REVEAL].replace("\\", "")  # markdown escapes
    line_a = next(line for line in reveal.splitlines() if "Model A" in line)
    line_b = next(line for line in reveal.splitlines() if "Model B" in line)
    assert model_a in line_a and model_b in line_b
    assert "time to first token" in line_a and "tokens" in line_b

    battle = app.battle_for_message(mk)
    assert battle["mode"] == "anony"
    assert (battle["model_a"], battle["model_b"]) == (model_a, model_b)
    assert battle["turn_count"] == 1
    votes = app.vote_rows(battle["id"])
    assert len(votes) == 1
    assert votes[0]["outcome"] == f"model_{winner_side}"
    assert votes[0]["excluded_reason"] is None
    answers = app.rows(
        "SELECT m.content, m.finish_reason, c.model_name FROM messages m JOIN conversations c "
        "ON c.id = m.conversation_id WHERE m.role = 'assistant' AND c.id IN (:a, :b)",
        a=battle["conversation_a_id"],
        b=battle["conversation_b_id"],
    )
    assert sorted((r["model_name"], r["finish_reason"]) for r in answers) == [
        ("Quillion-Large", "stop"),
        ("Zephyrine-7B", "stop"),
    ]
    for r in answers:
        assert ANSWER_WORD[BATTLE_MODELS[r["model_name"]]] in r["content"]


def test_multi_turn_battle_sends_history_and_vote_counts_all_turns(running_app: RunningApp) -> None:
    app, mk = running_app, marker()
    client = Client(app.url, verbose=False)
    client.predict(f"first question {mk}", api_name="/battle_send")
    before = len(app.openai.requests)
    final = client.predict("second question", api_name="/battle_send")
    assert [role for role, _ in messages(final[CHAT_A])] == ["user", "assistant", "user", "assistant"]
    # The OpenAI-side model received the whole conversation, its own first answer included.
    body = app.openai.requests[before].body
    assert [m["role"] for m in body["messages"]][-3:] == ["user", "assistant", "user"]
    client.predict(api_name="/battle_vote_tie")
    battle = app.battle_for_message(mk)
    assert app.vote_rows(battle["id"])[0]["outcome"] == "tie"
    assert app.vote_rows(battle["id"])[0]["turn_count"] == 2


def test_vote_endpoint_called_twice_or_concurrently_keeps_one_vote(running_app: RunningApp) -> None:
    app, mk = running_app, marker()
    client = Client(app.url, verbose=False)
    client.predict(f"double vote {mk}", api_name="/battle_send")
    # Two votes fired at the same moment through the public API, then two more one after the other.
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(client.predict, api_name=name) for name in ("/battle_vote_a", "/battle_vote_b")]
        results = [j.result() for j in jobs]
    again_tie = client.predict(api_name="/battle_vote_tie")
    again_bad = client.predict(api_name="/battle_vote_bothbad")

    battle = app.battle_for_message(mk)
    votes = app.vote_rows(battle["id"])
    assert len(votes) == 1
    accepted = [r for r in results if "vote was recorded" in r[STATUS]]
    assert len(accepted) >= 1
    assert votes[0]["outcome"] in {"model_a", "model_b"}
    for refused in (again_tie, again_bad):
        assert "already" in refused[STATUS].lower()
    # A different browser session has no battle of its own: voting there stores nothing.
    stranger = Client(app.url, verbose=False).predict(api_name="/battle_vote_a")
    assert "recorded" not in stranger[STATUS]
    assert len(app.vote_rows(battle["id"])) == 1


def test_error_on_one_side_says_which_and_blocks_the_vote(running_app: RunningApp) -> None:
    app, mk = running_app, marker()
    client = Client(app.url, verbose=False)
    with app.upstream.override("zephyrine-upstream", Reply.error(500, "boom")):
        final = client.predict(f"error please {mk}", api_name="/battle_send")
    battle = app.battle_for_message(mk)
    failed_label = "Model A" if battle["model_a"] == "Zephyrine-7B" else "Model B"
    ok_idx = CHAT_B if failed_label == "Model A" else CHAT_A
    assert f"{failed_label}'s server failed (HTTP 500)" in final[STATUS]
    assert "cannot be voted" in final[STATUS]
    assert "mango" in plain(last_answer(final[ok_idx]))  # the other side still answered
    assert "zephyrine" not in repr(final).lower()  # the error names the side, not the model

    refused = client.predict(api_name="/battle_vote_a")
    assert "recorded" not in refused[STATUS]
    assert app.vote_rows(battle["id"]) == []
    stored = app.rows(
        "SELECT finish_reason, error FROM messages WHERE role = 'assistant' AND conversation_id = :c",
        c=battle["conversation_a_id"] if failed_label == "Model A" else battle["conversation_b_id"],
    )
    assert [r["finish_reason"] for r in stored] == ["error"]

    # Regenerate once the upstream recovered: the round becomes votable.
    regenerated = client.predict(api_name="/battle_regenerate")
    assert "Vote" in regenerated[STATUS]
    voted = client.predict(api_name="/battle_vote_bothbad")
    assert "vote was recorded" in voted[STATUS]
    assert [v["outcome"] for v in app.vote_rows(battle["id"])] == ["tie (bothbad)"]


def test_identity_leak_vote_is_stored_excluded_and_user_told(running_app: RunningApp) -> None:
    app, mk = running_app, marker()
    client = Client(app.url, verbose=False)
    with app.upstream.override("quillion-upstream", Reply.text("I am Quillion, trained by Quillco.")):
        client.predict(f"who are you {mk}", api_name="/battle_send")
    voted = client.predict(api_name="/battle_vote_a")
    assert "will not count" in voted[STATUS]
    battle = app.battle_for_message(mk)
    assert app.vote_rows(battle["id"])[0]["excluded_reason"] == "identity_leak"


def test_upstream_error_text_naming_the_model_is_masked_before_the_reveal(running_app: RunningApp) -> None:
    app, mk = running_app, marker()
    client = Client(app.url, verbose=False)
    leaky = Reply.error(400, "zephyrine-upstream (Zephyr Labs) rejected the request: context too long")
    with app.upstream.override("zephyrine-upstream", leaky):
        job = client.submit(f"leaky error {mk}", api_name="/battle_send")
        updates = [*job, job.result()]
    for update in updates:
        assert [h for h in app.hidden if h in repr(update).lower()] == []
    assert "cannot be voted" in updates[-1][STATUS]
    assert "rejected the request: context too long" in updates[-1][STATUS]  # the useful part is kept
