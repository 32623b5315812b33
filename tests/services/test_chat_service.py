"""Direct chat by direct call: streaming, stop, regenerate, clear, feedback per answer."""

from __future__ import annotations

import pytest

from arena_app.services.app_services import AppServices
from arena_app.services.client_id import ClientIdentity
from arena_app.services.errors import InputRejected, NothingToDo
from tests.fakes.openai_server import Reply
from tests.services.conftest import Script
from tests.services.helpers import drain, json_value, rows


def test_chat_send_feedback_and_regenerate(
    services: AppServices, script: Script, client: ClientIdentity, fake_openai
) -> None:
    chat = services.chat
    state = chat.new_state()
    with pytest.raises(NothingToDo, match="no answer"):
        chat.feedback(state, "upvote", client)
    params = services.user_params(0.2, 0.8, 32)
    script.set("alpha-up", Reply.text("first answer"))
    drain(chat.send(state, "hello", "alpha", params, client))
    assert state.turns == [("hello", "first answer")]
    body = fake_openai.requests[-1].body
    assert body["temperature"] == 0.2 and body["top_p"] == 0.8 and body["max_tokens"] == 32

    assert "upvote" in chat.feedback(state, "upvote", client)
    with pytest.raises(NothingToDo, match="already"):
        chat.feedback(state, "upvote", client)
    chat.feedback(state, "flag", client)
    fb = rows(services, "SELECT f.kind, m.content FROM feedback f JOIN messages m ON m.id = f.message_id")
    assert sorted(r["kind"] for r in fb) == ["flag", "upvote"]
    assert all(r["content"] == "first answer" for r in fb)

    script.set("alpha-up", Reply.text("second answer"))
    drain(chat.regenerate(state))
    assert state.turns == [("hello", "second answer")]
    chat.feedback(state, "downvote", client)
    fb = rows(
        services,
        "SELECT m.content FROM feedback f JOIN messages m ON m.id = f.message_id WHERE f.kind = 'downvote'",
    )
    assert fb == [{"content": "second answer"}]
    conv = rows(services, "SELECT * FROM conversations")[0]
    assert conv["mode"] == "direct" and conv["model_name"] == "alpha"
    msgs = rows(services, "SELECT * FROM messages WHERE role = 'assistant' ORDER BY id")
    assert [m["superseded"] for m in msgs] == [True, False]

    hotter = services.user_params(1.1, 0.5, 48)  # parameters changed before the next turn
    drain(chat.send(state, "follow-up", "alpha", hotter, client))
    sent = [m["content"] for m in fake_openai.requests[-1].body["messages"]]
    assert sent == ["hello", "second answer", "follow-up"]
    assert fake_openai.requests[-1].body["temperature"] == 1.1
    answers = rows(services, "SELECT params FROM messages WHERE role = 'assistant' ORDER BY id")
    assert [json_value(a["params"]) for a in answers] == [
        {"temperature": 0.2, "top_p": 0.8, "max_new_tokens": 32},  # first answer
        {"temperature": 0.2, "top_p": 0.8, "max_new_tokens": 32},  # its regeneration
        {"temperature": 1.1, "top_p": 0.5, "max_new_tokens": 48},  # each answer keeps its own
    ]
    users = rows(services, "SELECT params FROM messages WHERE role = 'user'")
    assert all(u["params"] is None for u in users)
    with pytest.raises(InputRejected, match="switched models"):
        drain(chat.send(state, "x", "beta", params, client))


def test_chat_stop_keeps_partial_answer(
    services: AppServices, script: Script, client: ClientIdentity
) -> None:
    chat = services.chat
    script.set("beta-up", Reply.text(" ".join(f"t{i}" for i in range(80)), chunk_delay=0.05))
    state = chat.new_state()
    params = services.user_params(0.7, 1.0, 64)
    stopped = False
    for st in chat.send(state, "go", "beta", params, client):
        if not stopped and len(st.live) > 8:
            assert chat.stop(st)
            stopped = True
    assert state.last is not None and state.last.finish_reason == "stopped"
    row = rows(services, "SELECT * FROM messages WHERE role = 'assistant'")[0]
    assert row["finish_reason"] == "stopped" and row["content"].startswith("t0 t1")
    chat.feedback(state, "flag", client)  # a stopped answer can still be flagged


def test_chat_unknown_model_and_error(services: AppServices, script: Script, client: ClientIdentity) -> None:
    chat = services.chat
    params = services.user_params(0.7, 1.0, 64)
    with pytest.raises(InputRejected, match="not available"):
        drain(chat.send(chat.new_state(), "hi", "nope", params, client))
    script.push("alpha-up", Reply.error(401, "invalid key"))
    state = chat.new_state()
    drain(chat.send(state, "hi", "alpha", params, client))
    assert state.last is not None and state.last.finish_reason == "error"
    assert state.last.error and "sk-test-secret" not in state.last.error
    with pytest.raises(InputRejected, match="Regenerate"):
        drain(chat.send(state, "again", "alpha", params, client))
    drain(chat.regenerate(state))
    assert state.last is not None and state.last.ok


def test_chat_send_storage_failure_leaves_no_dangling_conversation(
    services: AppServices, client: ClientIdentity, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed first send rolls the new conversation back; the retry must create a fresh one. The
    driver's own error (what a lost connection raises) comes out as DatabaseUnavailableError, which the
    service translates into Unavailable, the error the UI turns into "the database is not available"."""
    from sqlalchemy.exc import OperationalError

    from arena_app.services.errors import Unavailable
    from arena_app.storage import api
    from arena_app.storage.errors import DatabaseUnavailableError

    chat = services.chat
    params = services.user_params(0.7, 1.0, 64)
    state = chat.new_state()
    real = api.add_user_message

    def failing(*args: object, **kwargs: object) -> object:
        raise OperationalError("INSERT INTO messages ...", {}, Exception("server closed the connection"))

    monkeypatch.setattr(api, "add_user_message", failing)
    with pytest.raises(Unavailable) as info:
        drain(chat.send(state, "hello", "alpha", params, client))
    assert isinstance(info.value.__cause__, DatabaseUnavailableError)  # translated at the service boundary
    assert state.conversation_id is None and state.turns == []
    assert rows(services, "SELECT * FROM conversations") == []

    monkeypatch.setattr(api, "add_user_message", real)
    drain(chat.send(state, "hello", "alpha", params, client))
    conv = rows(services, "SELECT id FROM conversations")
    assert [c["id"] for c in conv] == [state.conversation_id]
    users = rows(services, "SELECT content FROM messages WHERE role = 'user'")
    assert users == [{"content": "hello"}]


def test_a_second_vote_on_an_answer_replaces_the_first(
    services: AppServices, script: Script, client: ClientIdentity
) -> None:
    chat = services.chat
    state = chat.new_state()
    script.set("alpha-up", Reply.text("an answer"))
    drain(chat.send(state, "hello", "alpha", services.user_params(0.2, 0.8, 32), client))
    chat.feedback(state, "upvote", client)
    chat.feedback(state, "flag", client)
    assert "replaces your upvote" in chat.feedback(state, "downvote", client)
    kinds = sorted(r["kind"] for r in rows(services, "SELECT kind FROM feedback"))
    assert kinds == ["downvote", "flag"]  # one up-or-down per answer; the flag stays
    assert "replaces your downvote" in chat.feedback(state, "upvote", client)
    assert sorted(r["kind"] for r in rows(services, "SELECT kind FROM feedback")) == ["flag", "upvote"]
    with pytest.raises(NothingToDo, match="already"):
        chat.feedback(state, "upvote", client)
