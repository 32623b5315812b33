"""Battle service by direct call: real SQLite, real registry + openai SDK, loopback fake OpenAI server."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable

import pytest

from arena_app.domain import BattleMode
from arena_app.services.app_services import AppServices
from arena_app.services.client_id import ClientIdentity
from arena_app.services.errors import InputRejected, NothingToDo, VoteRejected
from tests.fakes.openai_server import Reply
from tests.services.conftest import Script
from tests.services.helpers import drain, json_value, rows, side_of


def test_battle_round_persists_messages_answers_and_vote(
    make_services: Callable[..., AppServices], db_url: str, script: Script, client: ClientIdentity
) -> None:
    services = make_services(database_url=db_url)  # SQLite and PostgreSQL
    script.set("alpha-up", Reply.text("# Title\n\n- one\n- **two**", output_tokens=9))
    script.set("beta-up", Reply.text("Plain answer here."))
    state = services.battle.new_state()
    drain(services.battle.send(state, "  Hello there  ", client))

    assert {s.model for s in state.sides} == {"alpha", "beta"}
    assert state.can_vote and not state.generating
    a = side_of(state, "alpha")
    assert state.turns[0][0] == "Hello there"  # stripped
    assert state.turns[0][1][a] == "# Title\n\n- one\n- **two**"

    battle = rows(services, "SELECT * FROM battles")[0]
    assert battle["mode"] == "anony" and battle["turn_count"] == 1
    assert {battle["model_a"], battle["model_b"]} == {"alpha", "beta"}
    assert battle["model_a"] == state.sides[0].model  # side A in the DB is side A on screen
    msgs = rows(
        services,
        "SELECT m.*, c.model_name FROM messages m JOIN conversations c "
        "ON c.id = m.conversation_id ORDER BY m.id",
    )
    users = [m for m in msgs if m["role"] == "user"]
    assert [u["content"] for u in users] == ["Hello there", "Hello there"]
    answers = {m["model_name"]: m for m in msgs if m["role"] == "assistant"}
    alpha = answers["alpha"]
    assert alpha["finish_reason"] == "stop" and alpha["output_tokens"] == 9
    assert alpha["ttft_s"] is not None and alpha["ttft_s"] >= 0
    assert alpha["header_count"] == 1 and alpha["list_count"] == 2 and alpha["bold_count"] == 1
    assert alpha["answer_tokens"] == 9

    services.battle.vote(state, "a", client)
    vote = rows(services, "SELECT * FROM votes")[0]
    assert vote["outcome"] == "model_a" and vote["excluded_reason"] is None and vote["turn_count"] == 1
    assert vote["client_hash"] == client.client_hash and vote["session_id"] == client.session_id
    stats = services.battle.reveal(state)
    assert stats is not None and [s.model for s in stats] == [s.model for s in state.sides]
    assert stats[a].tokens == 9 and stats[a].ttft_s is not None and stats[a].duration_s > 0


def test_names_hidden_until_vote(services: AppServices, client: ClientIdentity) -> None:
    state = services.battle.new_state()
    drain(services.battle.send(state, "hi", client))
    assert services.battle.reveal(state) is None
    services.battle.vote(state, "tie", client)
    assert services.battle.reveal(state) is not None


def test_slow_side_does_not_delay_the_other(
    services: AppServices, script: Script, client: ClientIdentity
) -> None:
    script.set("alpha-up", Reply.text("fast answer done", chunk_delay=0.01))
    script.set("beta-up", Reply.text("slow answer", first_chunk_delay=2.5))
    state = services.battle.new_state()
    start = time.monotonic()
    a = None
    fast_done_at = None
    for st in services.battle.send(state, "race", client):
        if a is None and st.sides:
            a = side_of(st, "alpha")
        if a is not None and st.sides[a].last is not None and fast_done_at is None:
            fast_done_at = time.monotonic() - start
            assert st.live[1 - a] == "", "the slow side has produced nothing yet"
            assert st.sides[1 - a].last is None
    total = time.monotonic() - start
    assert fast_done_at is not None and fast_done_at < 1.5, fast_done_at
    assert total >= 2.4
    assert all(s.last is not None and s.last.ok for s in state.sides)


def test_stop_cancels_both_and_persists_partial_answers(
    services: AppServices, script: Script, client: ClientIdentity, fake_openai
) -> None:
    words = " ".join(f"w{i}" for i in range(100))
    script.set("alpha-up", Reply.text(words, chunk_delay=0.05))
    script.set("beta-up", Reply.text(words, chunk_delay=0.05))
    state = services.battle.new_state()
    stopped = False
    start = time.monotonic()
    for st in services.battle.send(state, "long please", client):
        if not stopped and all(st.live) and len(st.live[0]) > 10 and len(st.live[1]) > 10:
            assert services.battle.stop(st)
            stopped = True
    assert stopped and time.monotonic() - start < 4.0  # 100 chunks at 50 ms would take 5 s
    assert [s.last.finish_reason for s in state.sides if s.last] == ["stopped", "stopped"]
    answers = rows(services, "SELECT * FROM messages WHERE role = 'assistant'")
    assert len(answers) == 2
    for row in answers:
        assert row["finish_reason"] == "stopped"
        assert row["content"].startswith("w0 w1") and len(row["content"]) < len(words)
    assert fake_openai.client_closed.wait(3.0), "the upstream request was closed"
    assert not services.battle.stop(state)  # nothing runs any more


def test_error_on_one_side_blocks_vote_until_regenerated(
    services: AppServices, script: Script, client: ClientIdentity
) -> None:
    script.push("beta-up", Reply.error(400, "bad request from upstream"))
    state = services.battle.new_state()
    drain(services.battle.send(state, "hi", client))
    b = side_of(state, "beta")
    label = "Model A" if b == 0 else "Model B"
    failed = state.side_failed()
    assert len(failed) == 1 and failed[0].startswith(label)
    other = state.sides[1 - b].last
    assert other is not None and other.ok
    assert not state.can_vote
    with pytest.raises(VoteRejected, match=label):
        services.battle.vote(state, "a", client)
    with pytest.raises(InputRejected, match="Regenerate"):
        drain(services.battle.send(state, "more", client))
    assert rows(services, "SELECT count(*) AS n FROM votes")[0]["n"] == 0
    err = rows(services, "SELECT * FROM messages WHERE finish_reason = 'error'")
    assert len(err) == 1 and err[0]["error"].startswith(label)

    drain(services.battle.regenerate(state))  # beta now answers normally
    assert state.can_vote
    services.battle.vote(state, "b", client)
    battle = rows(services, "SELECT * FROM battles")[0]
    assert battle["regenerations"] == 1
    answers = rows(services, "SELECT * FROM messages WHERE role = 'assistant' ORDER BY id")
    assert len(answers) == 4  # two first answers (kept), two regenerated
    superseded = [r for r in answers if r["superseded"]]
    assert len(superseded) == 2 and all(r["attempt"] == 0 for r in superseded)
    assert all(r["attempt"] == 1 for r in answers if not r["superseded"])


def test_exactly_one_vote_even_with_concurrent_and_replayed_calls(
    make_services: Callable[..., AppServices], db_url: str, client: ClientIdentity
) -> None:
    services = make_services(database_url=db_url)  # SQLite and PostgreSQL
    state = services.battle.new_state()
    drain(services.battle.send(state, "hi", client))
    replay = copy.deepcopy(state)  # a replayed request carrying the pre-vote state
    barrier = threading.Barrier(6)
    results: list[str] = []

    def vote(choice: str) -> None:
        barrier.wait()
        try:
            services.battle.vote(state, choice, client)
            results.append("ok")
        except VoteRejected as exc:
            results.append(str(exc))

    threads = [threading.Thread(target=vote, args=(c,)) for c in ("a", "b", "tie", "bothbad", "a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 1, results
    with pytest.raises(VoteRejected, match="already has a vote"):
        services.battle.vote(replay, "b", client)
    assert rows(services, "SELECT count(*) AS n FROM votes")[0]["n"] == 1


def test_identity_leak_excludes_the_vote(
    make_services: Callable[..., AppServices], script: Script, client: ClientIdentity
) -> None:
    services = make_services(identity_words=["Zephyrcorp"])
    script.set("alpha-up", Reply.text("As a model trained by BETASOFT, I think so."))
    state = services.battle.new_state()
    drain(services.battle.send(state, "who made you?", client))
    services.battle.vote(state, "a", client)
    assert state.excluded_reason == "identity_leak" and state.leaked_words
    assert rows(services, "SELECT excluded_reason FROM votes")[0]["excluded_reason"] == "identity_leak"

    script.set("alpha-up", Reply.text("zephyrcorp built me"))
    state = services.battle.new_state()
    drain(services.battle.send(state, "again", client))
    services.battle.vote(state, "b", client)
    assert state.excluded_reason == "identity_leak"

    script.set("alpha-up", Reply.text("Betasoftware and alphabets are fine"))
    state = services.battle.new_state()
    drain(services.battle.send(state, "third", client))
    services.battle.vote(state, "tie", client)
    assert state.excluded_reason is None
    reasons = [r["excluded_reason"] for r in rows(services, "SELECT excluded_reason FROM votes ORDER BY id")]
    assert reasons == ["identity_leak", "identity_leak", None]


def test_input_and_turn_limits_are_clear_and_change_nothing(
    make_services: Callable[..., AppServices], client: ClientIdentity
) -> None:
    services = make_services(max_input_chars=20, max_turns=2)
    state = services.battle.new_state()
    with pytest.raises(InputRejected, match="limit is 20"):
        drain(services.battle.send(state, "x" * 21, client))
    with pytest.raises(InputRejected, match="Type a message"):
        drain(services.battle.send(state, "   ", client))
    assert state.battle_id is None and not state.turns
    assert rows(services, "SELECT count(*) AS n FROM battles")[0]["n"] == 0
    drain(services.battle.send(state, "one", client))
    drain(services.battle.send(state, "two", client))
    with pytest.raises(InputRejected, match="limit of 2 turns"):
        drain(services.battle.send(state, "three", client))
    assert len(state.turns) == 2
    assert rows(services, "SELECT count(*) AS n FROM messages WHERE role = 'user'")[0]["n"] == 4
    assert rows(services, "SELECT turn_count FROM battles")[0]["turn_count"] == 2
    services.battle.vote(state, "a", client)
    assert rows(services, "SELECT turn_count FROM votes")[0]["turn_count"] == 2


def test_multi_turn_sends_each_side_its_own_history(
    services: AppServices, script: Script, client: ClientIdentity, fake_openai
) -> None:
    script.set("alpha-up", Reply.text("alpha says"))
    script.set("beta-up", Reply.text("beta says"))
    state = services.battle.new_state()
    drain(services.battle.send(state, "first", client))
    drain(services.battle.send(state, "second", client))
    last = {r.body["model"]: r.body["messages"] for r in fake_openai.requests[-2:]}
    assert [m["content"] for m in last["alpha-up"]] == ["first", "alpha says", "second"]
    assert [m["content"] for m in last["beta-up"]] == ["first", "beta says", "second"]


def test_vote_and_regenerate_refusals(services: AppServices, client: ClientIdentity) -> None:
    state = services.battle.new_state()
    with pytest.raises(VoteRejected, match="nothing to vote"):
        services.battle.vote(state, "a", client)
    with pytest.raises(NothingToDo):
        drain(services.battle.regenerate(state))
    drain(services.battle.send(state, "hi", client))
    with pytest.raises(VoteRejected, match="Unknown vote"):
        services.battle.vote(state, "left", client)
    services.battle.vote(state, "bothbad", client)
    with pytest.raises(NothingToDo, match="already has a vote"):
        drain(services.battle.regenerate(state))
    with pytest.raises(InputRejected, match="over"):
        drain(services.battle.send(state, "more", client))
    assert rows(services, "SELECT outcome FROM votes")[0]["outcome"] == "tie (bothbad)"


def test_named_mode_uses_chosen_models_and_params(
    services: AppServices, client: ClientIdentity, fake_openai
) -> None:
    params = services.user_params(0.3, 0.9, 64)
    state = services.named.new_state(BattleMode.NAMED)
    drain(services.named.send(state, "hi", client, models=["beta", "alpha"], params=[params, params]))
    assert [s.model for s in state.sides] == ["beta", "alpha"]
    bodies = [r.body for r in fake_openai.requests[-2:]]
    assert all(b["temperature"] == 0.3 and b["top_p"] == 0.9 for b in bodies)
    with pytest.raises(InputRejected, match="models are fixed"):  # e.g. a direct API call mid-battle
        drain(services.named.send(state, "again", client, models=["alpha", "beta"], params=[params, params]))
    assert len(state.turns) == 1
    warmer = services.user_params(0.9, 0.5, 80)
    drain(services.named.send(state, "again", client, models=["beta", "alpha"], params=[warmer, warmer]))
    assert all(r.body["temperature"] == 0.9 for r in fake_openai.requests[-2:])
    answers = rows(services, "SELECT params FROM messages WHERE role = 'assistant' ORDER BY position, id")
    assert [json_value(a["params"])["temperature"] for a in answers] == [0.3, 0.3, 0.9, 0.9]
    services.named.vote(state, "a", client)
    battle = rows(services, "SELECT * FROM battles")[0]
    assert battle["mode"] == "named" and battle["model_a"] == "beta"
    with pytest.raises(InputRejected, match="not available"):
        fresh = services.named.new_state(BattleMode.NAMED)
        drain(services.named.send(fresh, "x", client, models=["beta", "nope"]))


def test_vote_stores_category_tags(services: AppServices, script: Script, client: ClientIdentity) -> None:
    script.set("alpha-up", Reply.text("Here:\n```python\nprint(1)\n```"))
    state = services.battle.new_state()
    drain(services.battle.send(state, "x" * 2100, client))
    services.battle.vote(state, "a", client)
    tags = {r["tag"] for r in rows(services, "SELECT tag FROM battle_tags")}
    assert {"code", "long_prompt"} <= tags and "overall" not in tags


def test_stream_broken_mid_answer_keeps_the_partial_text_marked_error(
    services: AppServices, script: Script, client: ClientIdentity
) -> None:
    script.push("beta-up", Reply.text("w0 w1 w2 w3 w4 w5", disconnect_after=3))
    state = services.battle.new_state()
    drain(services.battle.send(state, "hi", client))
    b = side_of(state, "beta")
    last = state.sides[b].last
    assert last is not None and last.finish_reason == "error" and last.text == "w0 w1 w2"
    row = rows(
        services,
        "SELECT * FROM messages m JOIN conversations c ON c.id = m.conversation_id "
        "WHERE m.role = 'assistant' AND c.model_name = 'beta'",
    )[0]
    assert row["finish_reason"] == "error" and row["content"] == "w0 w1 w2" and row["error"]
    assert not state.can_vote


def test_error_text_shown_before_the_reveal_hides_model_names(
    services: AppServices, script: Script, client: ClientIdentity
) -> None:
    script.push("beta-up", Reply.error(404, "The model `beta-up` does not exist (Betasoft)"))
    state = services.battle.new_state()
    drain(services.battle.send(state, "hi", client))
    (failure,) = state.side_failed()
    assert "beta" not in failure.lower() and "[hidden]" in failure
    raw = rows(services, "SELECT error FROM messages WHERE finish_reason = 'error'")[0]["error"]
    assert "beta-up" in raw  # the stored record keeps the upstream's words (server side only)


def test_failed_first_send_leaves_no_empty_battle(
    services: AppServices, client: ClientIdentity, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The battle row and its first user messages commit together; after a database failure the state is
    untouched and a retry starts a fresh battle."""
    from sqlalchemy.exc import OperationalError

    from arena_app.services.errors import Unavailable
    from arena_app.storage import api
    from arena_app.storage.errors import DatabaseUnavailableError

    real = api.add_user_message

    def failing(*args: object, **kwargs: object) -> object:
        raise OperationalError("INSERT INTO messages ...", {}, Exception("server closed the connection"))

    state = services.battle.new_state()
    monkeypatch.setattr(api, "add_user_message", failing)
    with pytest.raises(Unavailable) as info:
        drain(services.battle.send(state, "hello", client))
    assert isinstance(info.value.__cause__, DatabaseUnavailableError)  # translated at the service boundary
    assert state.battle_id is None and state.sides == [] and state.turns == []
    assert rows(services, "SELECT id FROM battles") == []
    assert rows(services, "SELECT id FROM conversations") == []

    monkeypatch.setattr(api, "add_user_message", real)
    drain(services.battle.send(state, "hello", client))
    assert [b["id"] for b in rows(services, "SELECT id FROM battles")] == [state.battle_id]
