"""Concurrent writers: one vote per battle holds under a real race; SQLite writers wait instead of failing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from arena_app.storage import api
from arena_app.storage.db import make_engine, make_session_factory, session_scope
from arena_app.storage.errors import DuplicateVoteError
from arena_app.storage.models import Vote


@pytest.fixture
def factory(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url, pool_size=8)
    yield make_session_factory(engine)
    engine.dispose()


def _run_together(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``n`` threads released at the same instant; returns results or exceptions."""
    barrier = threading.Barrier(n)

    def run(i: int) -> Any:
        barrier.wait()
        try:
            return work(i)
        except Exception as exc:  # collected and asserted on by the caller
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_two_concurrent_votes_on_one_battle_store_exactly_one(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as s:
        battle_ids = [
            api.create_battle(s, mode="anony", model_a="a", model_b="b", session_id="s", client_hash="h").id
            for _ in range(10)
        ]
    outcomes = ["model_a", "model_b"]
    for battle_id in battle_ids:

        def vote(i: int, battle_id: int = battle_id) -> str:
            with session_scope(factory) as s:
                return api.record_vote(
                    s,
                    battle_id=battle_id,
                    outcome=outcomes[i],
                    turn_count=1,
                    session_id=f"s{i}",
                    client_hash=f"judge{i}",
                ).outcome

        results = _run_together(2, vote)
        winners = [r for r in results if isinstance(r, str)]
        duplicates = [r for r in results if isinstance(r, DuplicateVoteError)]
        assert len(winners) == 1 and len(duplicates) == 1, results
        with session_scope(factory) as s:
            stored = api.get_vote_for_battle(s, battle_id)
            assert stored is not None and stored.outcome == winners[0]
    with session_scope(factory) as s:
        assert s.scalar(select(func.count()).select_from(Vote)) == len(battle_ids)


def test_many_concurrent_writers_do_not_fail(factory: sessionmaker[Session]) -> None:
    """8 threads each store 15 battles with messages and a vote; nothing fails with 'database is locked'."""
    per_thread = 15

    def writer(i: int) -> int:
        for _ in range(per_thread):
            with session_scope(factory) as s:
                b = api.create_battle(
                    s, mode="named", model_a="a", model_b="b", session_id=f"s{i}", client_hash=f"h{i}"
                )
                api.add_user_message(s, b.conversation_a_id, f"hello from {i}")
                api.add_user_message(s, b.conversation_b_id, f"hello from {i}")
                api.set_battle_turns(s, b.id, 1)
                api.record_vote(
                    s, battle_id=b.id, outcome="tie", turn_count=1, session_id=f"s{i}", client_hash=f"h{i}"
                )
        return per_thread

    results = _run_together(8, writer)
    assert results == [per_thread] * 8, [r for r in results if isinstance(r, Exception)][:3]
    with session_scope(factory) as s:
        assert s.scalar(select(func.count()).select_from(Vote)) == 8 * per_thread
