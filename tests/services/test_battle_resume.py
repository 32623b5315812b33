"""Resuming a battle from the database with the browser's signed token, on SQLite and PostgreSQL.

Two AppServices on one database stand for two replicas (they share only the database and the signing
key). A token is refused when forged, signed with another key, expired, for the other mode or for a battle
that does not exist; a valid one rebuilds the battle on either replica, before and after the vote, and an
answer that never reached the database comes back as stopped, ready to regenerate or continue.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import pytest

from arena_app.domain import BattleMode, FinishReason
from arena_app.services.app_services import AppServices
from arena_app.services.battle_state import BattleState
from arena_app.services.client_id import ClientIdentity
from arena_app.services.errors import InputRejected
from arena_app.services.resume_token import ResumeTokens
from arena_app.storage import api
from arena_app.storage.db import session_scope
from tests.fakes.openai_server import Reply
from tests.services.conftest import Script
from tests.services.helpers import drain, rows, side_of

KEY = "resume-test-key-0123456789abcdef"


@pytest.fixture
def replicas(
    make_services: Callable[..., AppServices], db_url: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[AppServices, AppServices]:
    """Two services on one database with one signing key: two replicas of the app."""
    monkeypatch.setenv("ARENA_RESUME_TOKEN_KEY", KEY)
    return make_services(database_url=db_url), make_services(database_url=db_url)


def _played(services: AppServices, script: Script, client: ClientIdentity) -> BattleState:
    script.set("alpha-up", Reply.text("Alpha answers about kiwi."))
    script.set("beta-up", Reply.text("Beta answers about mango."))
    state = services.battle.new_state()
    drain(services.battle.send(state, "First question", client))
    drain(services.battle.send(state, "Second question", client))
    assert state.resume_token is not None and state.can_vote
    return state


def test_another_replica_rebuilds_the_battle_before_and_after_the_vote(
    replicas: tuple[AppServices, AppServices], script: Script, client: ClientIdentity
) -> None:
    one, two = replicas
    state = _played(one, script, client)
    token = state.resume_token
    assert token is not None

    resumed = two.battle.resume(token, BattleMode.ANONY)
    assert resumed.battle_id == state.battle_id and resumed.resume_token == token
    assert [s.model for s in resumed.sides] == [s.model for s in state.sides]
    assert resumed.turns == state.turns
    assert [s.conversation_id for s in resumed.sides] == [s.conversation_id for s in state.sides]
    assert resumed.can_vote and not resumed.voted and two.battle.reveal(resumed) is None  # names hidden

    # replica two continues the battle: a third turn with the full history, then the vote
    drain(two.battle.send(resumed, "Third question", client))
    assert len(resumed.turns) == 3 and resumed.resume_token == token
    two.battle.vote(resumed, "b", client)
    assert [v["outcome"] for v in rows(two, "SELECT outcome FROM votes")] == ["model_b"]
    users = rows(one, "SELECT content FROM messages WHERE role = 'user' ORDER BY id")
    assert [u["content"] for u in users] == [
        f"{q} question" for q in ("First", "Second", "Third") for _ in "ab"
    ]

    after = one.battle.resume(token, BattleMode.ANONY)  # back on replica one, after the vote
    assert after.voted and not after.can_vote and after.outcome == resumed.outcome
    stats = one.battle.reveal(after)
    assert stats is not None and [s.model for s in stats] == [s.model for s in state.sides]
    with pytest.raises(Exception, match="already voted"):
        one.battle.vote(after, "a", client)
    assert len(rows(one, "SELECT id FROM votes")) == 1


def test_forged_foreign_expired_and_other_mode_tokens_are_refused(
    replicas: tuple[AppServices, AppServices],
    make_services: Callable[..., AppServices],
    db_url: str,
    script: Script,
    client: ClientIdentity,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    one, _ = replicas
    mine = _played(one, script, client)
    theirs = _played(one, script, client)  # someone else's battle, on the same database
    assert mine.resume_token is not None and theirs.battle_id is not None
    version, mode, battle_id, expires, signature = mine.resume_token.split(".")

    forged = [
        f"{version}.{mode}.{theirs.battle_id}.{expires}.{signature}",  # another battle, my signature
        f"{version}.{mode}.{battle_id}.{int(expires) + 3600}.{signature}",  # a later expiry
        f"{version}.named.{battle_id}.{expires}.{signature}",  # the other mode
        f"{version}.{mode}.{battle_id}.{expires}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        f"{version}.{mode}.{battle_id}.{expires}."
        + base64.urlsafe_b64encode(b"\0" * 32).decode().rstrip("="),
        "",
        "garbage",
        mine.resume_token + "x",
        "b1.anony.1.1.' OR 1=1 --",
        "x" * 10_000,
    ]
    for token in forged:
        with pytest.raises(InputRejected, match="not valid"):
            one.battle.resume(token, BattleMode.ANONY)

    # a deployment with another key signs its own tokens: ours refuses them
    monkeypatch.setenv("ARENA_RESUME_TOKEN_KEY", "another-deployment-key-987654321")
    other = make_services(database_url=db_url)
    foreign = other.tokens.issue(BattleMode.ANONY, int(battle_id))
    with pytest.raises(InputRejected, match="not valid"):
        one.battle.resume(foreign, BattleMode.ANONY)
    with pytest.raises(InputRejected, match="not valid"):
        other.battle.resume(mine.resume_token, BattleMode.ANONY)

    # a valid token of the anonymous tab is not one for the side-by-side tab
    with pytest.raises(InputRejected, match="not valid"):
        one.named.resume(mine.resume_token, BattleMode.NAMED)

    # expired: the same key and battle, issued long enough ago
    key = KEY.encode()
    old = ResumeTokens(key, 60, clock=lambda: time.time() - 61).issue(BattleMode.ANONY, int(battle_id))
    with pytest.raises(InputRejected, match="expired"):
        one.battle.resume(old, BattleMode.ANONY)
    fresh = ResumeTokens(key, 60).issue(BattleMode.ANONY, int(battle_id))
    assert one.battle.resume(fresh, BattleMode.ANONY).battle_id == int(battle_id)

    # signed, but no such battle (a database that was reset)
    gone = ResumeTokens(key, 60).issue(BattleMode.ANONY, 987_654_321)
    with pytest.raises(InputRejected, match="no longer exists"):
        one.battle.resume(gone, BattleMode.ANONY)
    assert len(rows(one, "SELECT id FROM votes")) == 0  # nothing was changed by any refusal


def test_an_answer_lost_with_its_process_comes_back_stopped_and_can_be_regenerated(
    replicas: tuple[AppServices, AppServices], script: Script, client: ClientIdentity
) -> None:
    """The process died mid-answer: the user message and one partial answer were stored, not the other."""
    one, two = replicas
    with session_scope(one.session_factory) as s:
        battle = api.create_battle(
            s,
            mode=BattleMode.ANONY,
            model_a="alpha",
            model_b="beta",
            session_id="dead-session",
            client_hash=client.client_hash,
        )
        for cid in (battle.conversation_a_id, battle.conversation_b_id):
            api.add_user_message(s, cid, "Tell me a story")
        api.set_battle_turns(s, battle.id, 1)
        now = api.get_battle(s, battle.id).created_at
        api.add_assistant_message(
            s,
            battle.conversation_a_id,
            "Once upon a",
            created_at=now,
            finished_at=now,
            ttft_s=0.1,
            output_tokens=None,
            finish_reason=FinishReason.STOPPED,
        )
    token = one.tokens.issue(BattleMode.ANONY, battle.id)

    state = two.battle.resume(token, BattleMode.ANONY)  # no stream of it runs here: nothing to wait for
    assert state.turns == [("Tell me a story", ["Once upon a", ""])]
    assert [s.last.finish_reason if s.last else None for s in state.sides] == ["stopped", "stopped"]
    assert state.sides[0].last is not None and state.sides[0].last.message_id is not None
    assert state.can_vote and not state.generating and state.side_failed() == []

    script.set("alpha-up", Reply.text("A whole alpha story."))
    script.set("beta-up", Reply.text("A whole beta story."))
    drain(two.battle.regenerate(state))
    assert state.turns == [("Tell me a story", ["A whole alpha story.", "A whole beta story."])]
    current = rows(
        two,
        "SELECT conversation_id, position, attempt, content FROM messages "
        "WHERE role = 'assistant' AND superseded = :no ORDER BY conversation_id",
        no=False,
    )
    assert [(r["position"], r["content"]) for r in current] == [
        (1, "A whole alpha story."),
        (1, "A whole beta story."),
    ]
    old = rows(two, "SELECT content FROM messages WHERE superseded = :yes", yes=True)
    assert [r["content"] for r in old] == ["Once upon a"]  # kept as a record

    drain(two.battle.send(state, "And then?", client))  # the user continues
    assert len(state.turns) == 2 and state.can_vote
    again = one.battle.resume(token, BattleMode.ANONY)
    assert again.turns == state.turns


def test_a_reload_mid_stream_on_the_same_replica_stops_it_and_shows_the_partial_answers(
    replicas: tuple[AppServices, AppServices], script: Script, client: ClientIdentity
) -> None:
    one, _ = replicas
    words = " ".join(f"w{i}" for i in range(200))
    script.set("alpha-up", Reply.text(words, chunk_delay=0.03))
    script.set("beta-up", Reply.text(words, chunk_delay=0.03))
    state = one.battle.new_state()
    stream = one.battle.send(state, "long please", client)
    for st in stream:  # the old page streams a while, then goes away without closing its stream
        if all(len(t) > 10 for t in st.live):
            break
    assert state.resume_token is not None
    start = time.monotonic()
    resumed = one.battle.resume(state.resume_token, BattleMode.ANONY)
    assert time.monotonic() - start < 4.0  # 200 words at 30 ms would take 6 s
    assert [s.last.finish_reason if s.last else None for s in resumed.sides] == ["stopped", "stopped"]
    for answer in resumed.turns[0][1]:
        assert answer is not None and answer.startswith("w0 w1") and len(answer) < len(words)
    a = side_of(resumed, "alpha")
    assert (
        resumed.turns[0][1][a]
        == rows(
            one,
            "SELECT m.content FROM messages m JOIN conversations c ON c.id = m.conversation_id "
            "WHERE c.model_name = 'alpha' AND m.role = 'assistant'",
        )[0]["content"]
    )
    stream.close()
    assert resumed.can_vote
    one.battle.vote(resumed, "tie", client)
    assert [v["outcome"] for v in rows(one, "SELECT outcome FROM votes")] == ["tie"]


def test_a_named_battle_resumes_with_its_parameters(
    replicas: tuple[AppServices, AppServices], script: Script, client: ClientIdentity
) -> None:
    one, two = replicas
    params = one.user_params(0.3, 0.9, 64)
    state = one.named.new_state(BattleMode.NAMED)
    drain(one.named.send(state, "Compare", client, models=["beta", "alpha"], params=[params, params]))
    assert state.resume_token is not None
    with pytest.raises(InputRejected, match="not valid"):
        two.battle.resume(state.resume_token, BattleMode.ANONY)
    resumed = two.named.resume(state.resume_token, BattleMode.NAMED)
    assert resumed.mode == BattleMode.NAMED and [s.model for s in resumed.sides] == ["beta", "alpha"]
    assert [(s.params.temperature, s.params.top_p, s.params.max_new_tokens) for s in resumed.sides] == [
        (0.3, 0.9, 64),
        (0.3, 0.9, 64),
    ]
