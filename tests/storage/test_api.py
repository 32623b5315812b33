"""Storage API round-trips on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from arena_app.storage import api
from arena_app.storage.db import make_engine, make_session_factory, session_scope
from arena_app.storage.errors import DuplicateVoteError, InvalidInputError, NotFoundError
from arena_app.storage.records import StyleCounts


@pytest.fixture
def factory(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


def _battle(s: Session, mode: str = "anony") -> int:
    return api.create_battle(
        s,
        mode=mode,
        model_a="alpha",
        model_b="beta",
        session_id="sess-1",
        client_hash="h" * 64,
        params_a={"temperature": 0.7},
        params_b=None,
    ).id


def test_battle_conversations_messages_round_trip(factory: sessionmaker[Session]) -> None:
    t0 = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    with session_scope(factory) as s:
        battle = api.create_battle(
            s,
            mode="anony",
            model_a="alpha",
            model_b="beta",
            session_id="sess-1",
            client_hash="abc",
            params_a={"temperature": 0.7, "top_p": 1.0},
        )
        user = api.add_user_message(s, battle.conversation_a_id, 'Hi, "there"\nsecond line ünïcode ✓')
        answer = api.add_assistant_message(
            s,
            battle.conversation_a_id,
            "# Title\n- item\n**bold**",
            created_at=t0,
            finished_at=t0 + timedelta(seconds=2),
            ttft_s=0.25,
            output_tokens=12,
            finish_reason="stop",
            style=StyleCounts(tokens=12, headers=1, lists=1, bold=1, has_code=False),
        )
        api.add_battle_tags(s, battle.id, ["multi_turn", "code"])
        api.add_battle_tags(s, battle.id, ["code"])  # duplicate tag ignored
        api.set_battle_turns(s, battle.id, 1)
        api.mark_battle_regenerated(s, battle.id)
        api.mark_battle_regenerated(s, battle.id)

    with session_scope(factory) as s:
        got = api.get_battle(s, battle.id)
        assert (got.mode, got.model_a, got.model_b) == ("anony", "alpha", "beta")
        assert got.turn_count == 1 and got.regenerations == 2
        assert got.tags == ("code", "multi_turn")
        assert got.created_at.tzinfo is not None and got.created_at.utcoffset() == timedelta(0)
        conv = api.get_conversation(s, battle.conversation_a_id)
        assert conv.params == {"temperature": 0.7, "top_p": 1.0}
        assert conv.mode == "anony" and conv.model_name == "alpha"
        assert conv.style == StyleCounts(tokens=12, headers=1, lists=1, bold=1, has_code=False)
        assert api.get_conversation(s, battle.conversation_b_id).params is None
        msgs = api.list_messages(s, battle.conversation_a_id)
        assert [(m.position, m.role, m.attempt) for m in msgs] == [(0, "user", 0), (1, "assistant", 0)]
        assert msgs[0].content == user.content == 'Hi, "there"\nsecond line ünïcode ✓'
        assert msgs[1].created_at == t0 and msgs[1].finished_at == t0 + timedelta(seconds=2)
        assert msgs[1].ttft_s == pytest.approx(0.25) and msgs[1].output_tokens == 12
        assert msgs[1].finish_reason == "stop" and msgs[1].error is None
        assert msgs[1].style == answer.style
        assert api.list_messages(s, battle.conversation_b_id) == []


def test_regenerate_supersedes_and_updates_style_totals(factory: sessionmaker[Session]) -> None:
    now = datetime.now(UTC)
    with session_scope(factory) as s:
        conv = api.create_conversation(s, mode="direct", model_name="alpha", session_id="s", client_hash="h")
        api.add_user_message(s, conv.id, "q1")
        first = api.add_assistant_message(
            s,
            conv.id,
            "a1",
            created_at=now,
            finished_at=now,
            ttft_s=0.1,
            output_tokens=5,
            finish_reason="stop",
            style=StyleCounts(tokens=5, headers=2, lists=0, bold=1, has_code=True),
        )
        api.add_user_message(s, conv.id, "q2")
        api.add_assistant_message(
            s,
            conv.id,
            "a2",
            created_at=now,
            finished_at=None,
            ttft_s=None,
            output_tokens=3,
            finish_reason="error",
            error="upstream timeout",
            style=StyleCounts(tokens=3, headers=0, lists=4, bold=0, has_code=False),
        )
        assert api.get_conversation(s, conv.id).style == StyleCounts(8, 2, 4, 1, True)
        second = api.add_assistant_message(
            s,
            conv.id,
            "a1 again",
            created_at=now,
            finished_at=now,
            ttft_s=0.2,
            output_tokens=7,
            finish_reason="stop",
            style=StyleCounts(tokens=7, headers=0, lists=1, bold=0, has_code=False),
            replaces_message_id=first.id,
        )
        assert (second.position, second.attempt) == (first.position, 1)
        with pytest.raises(InvalidInputError):  # a superseded answer cannot be replaced again
            api.add_assistant_message(
                s,
                conv.id,
                "x",
                created_at=now,
                finished_at=None,
                ttft_s=None,
                output_tokens=None,
                finish_reason=None,
                replaces_message_id=first.id,
            )
    with session_scope(factory) as s:
        assert api.get_conversation(s, conv.id).style == StyleCounts(10, 0, 5, 0, False)
        current = api.list_messages(s, conv.id)
        assert [m.content for m in current] == ["q1", "a1 again", "q2", "a2"]
        assert current[3].error == "upstream timeout" and current[3].finish_reason == "error"
        everything = api.list_messages(s, conv.id, include_superseded=True)
        assert [(m.content, m.superseded) for m in everything][:3] == [
            ("q1", False),
            ("a1", True),
            ("a1 again", False),
        ]


def test_vote_round_trip_and_one_vote_per_battle(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as s:
        battle_id = _battle(s)
        assert api.get_vote_for_battle(s, battle_id) is None
        vote = api.record_vote(
            s,
            battle_id=battle_id,
            outcome="tie (bothbad)",
            turn_count=2,
            session_id="sess-1",
            client_hash="judge",
            excluded_reason="identity_leak",
        )
        with pytest.raises(DuplicateVoteError):
            api.record_vote(
                s, battle_id=battle_id, outcome="model_a", turn_count=2, session_id="x", client_hash="y"
            )
        # the ON CONFLICT insert (no exception inside the transaction) kept the caller's transaction usable
        api.set_battle_turns(s, battle_id, 2)
    with session_scope(factory) as s:
        got = api.get_vote_for_battle(s, battle_id)
        assert got == vote
        assert got is not None and got.outcome == "tie (bothbad)" and got.excluded_reason == "identity_leak"
        assert api.get_battle(s, battle_id).turn_count == 2


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"outcome": "leftvote"}, InvalidInputError),
        ({"turn_count": -1}, InvalidInputError),
        ({"battle_id": 987654}, NotFoundError),
        ({"client_hash": ""}, InvalidInputError),
    ],
)
def test_bad_votes_are_refused_and_change_nothing(
    factory: sessionmaker[Session], kwargs: dict[str, object], error: type[Exception]
) -> None:
    with session_scope(factory) as s:
        battle_id = _battle(s)
    args: dict[str, object] = {
        "battle_id": battle_id,
        "outcome": "model_a",
        "turn_count": 1,
        "session_id": "s",
        "client_hash": "h",
    } | kwargs
    with pytest.raises(error), session_scope(factory) as s:
        api.record_vote(s, **args)  # type: ignore[arg-type]
    with session_scope(factory) as s:
        assert api.get_vote_for_battle(s, battle_id) is None


def test_invalid_inputs(factory: sessionmaker[Session]) -> None:
    naive = datetime(2026, 1, 1)
    with session_scope(factory) as s:
        with pytest.raises(InvalidInputError, match="battle mode"):
            api.create_battle(s, mode="direct", model_a="a", model_b="b", session_id="s", client_hash="h")
        conv = api.create_conversation(s, mode="named", model_name="m", session_id="s", client_hash="h")
        with pytest.raises(InvalidInputError, match="timezone"):
            api.add_assistant_message(
                s,
                conv.id,
                "x",
                created_at=naive,
                finished_at=None,
                ttft_s=None,
                output_tokens=None,
                finish_reason=None,
            )
        with pytest.raises(NotFoundError):
            api.add_user_message(s, 424242, "hello")
        with pytest.raises(NotFoundError):
            api.get_battle(s, 424242)
        with pytest.raises(InvalidInputError, match="feedback kind"):
            api.record_feedback(s, message_id=1, kind="love", session_id="s", client_hash="h")


def test_feedback_snapshots_and_salt(factory: sessionmaker[Session]) -> None:
    now = datetime.now(UTC)
    with session_scope(factory) as s:
        conv = api.create_conversation(s, mode="direct", model_name="m", session_id="s", client_hash="h")
        msg = api.add_assistant_message(
            s,
            conv.id,
            "answer",
            created_at=now,
            finished_at=now,
            ttft_s=0.1,
            output_tokens=1,
            finish_reason="stop",
        )
        fb = api.record_feedback(s, message_id=msg.id, kind="flag", session_id="s", client_hash="h")
        assert (fb.message_id, fb.kind) == (msg.id, "flag")
        with pytest.raises(NotFoundError):
            api.record_feedback(s, message_id=msg.id + 1000, kind="upvote", session_id="s", client_hash="h")
        assert api.latest_snapshot(s) is None
        api.save_snapshot(s, category="overall", params={"k": 4}, vote_count=10, result={"rows": [1]})
        newer = api.save_snapshot(
            s,
            category="overall",
            params={"k": 4},
            vote_count=11,
            result={"rows": [{"model": "a", "rating": 1000.5}]},
        )
        api.save_snapshot(s, category="code", params={}, vote_count=1, result={})
    with session_scope(factory) as s:
        latest = api.latest_snapshot(s)
        assert latest is not None and latest.id == newer.id
        assert latest.result == {"rows": [{"model": "a", "rating": 1000.5}]} and latest.vote_count == 11
        code = api.latest_snapshot(s, "code")
        assert code is not None and code.category == "code"
