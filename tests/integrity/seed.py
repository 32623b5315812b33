"""Bulk-insert votes with judges, answer lengths and times (for the integrity tests)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import Engine, create_engine, insert

from arena_app.storage.models import Battle, Conversation, Vote
from tests.leaderboard.integrity_sim import Arena

OUTCOMES = ("model_a", "model_b", "tie", "tie (bothbad)")
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def insert_votes(
    engine: Engine,
    models: Sequence[str],
    judges: Sequence[str],
    a: np.ndarray,
    b: np.ndarray,
    o: np.ndarray,
    times: Sequence[datetime],
    *,
    tokens_a: np.ndarray | None = None,
    tokens_b: np.ndarray | None = None,
    excluded: Sequence[str | None] | None = None,
    mode: str = "anony",
) -> None:
    """One anonymous battle and vote per row, ids in row order."""
    n = len(a)
    ta = np.full(n, 300) if tokens_a is None else tokens_a
    tb = np.full(n, 300) if tokens_b is None else tokens_b
    with engine.begin() as conn:
        start = int(conn.exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM battles").scalar_one())
        convs, battles, votes = [], [], []
        for i in range(n):
            k = start + i + 1
            for side, model, tokens in ((0, a[i], ta[i]), (1, b[i], tb[i])):
                convs.append(
                    {
                        "id": 2 * k - 1 + side,
                        "mode": mode,
                        "model_name": models[model],
                        "session_id": f"s{k}",
                        "client_hash": judges[i],
                        "created_at": times[i],
                        "answer_tokens": int(tokens),
                    }
                )
            battles.append(
                {
                    "id": k,
                    "mode": mode,
                    "model_a": models[a[i]],
                    "model_b": models[b[i]],
                    "conversation_a_id": 2 * k - 1,
                    "conversation_b_id": 2 * k,
                    "session_id": f"s{k}",
                    "client_hash": judges[i],
                    "created_at": times[i],
                    "turn_count": 1,
                }
            )
            votes.append(
                {
                    "id": k,
                    "battle_id": k,
                    "outcome": OUTCOMES[o[i]],
                    "turn_count": 1,
                    "excluded_reason": None if excluded is None else excluded[i],
                    "session_id": f"s{k}",
                    "client_hash": judges[i],
                    "created_at": times[i],
                }
            )
        conn.execute(insert(Conversation), convs)
        conn.execute(insert(Battle), battles)
        conn.execute(insert(Vote), votes)
        if engine.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for table in ("conversations", "battles", "votes"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
                )


def judge_hash(j: int) -> str:
    return f"{j:04d}" + "ab" * 30


def insert_arena(url: str, ar: Arena, rng: np.random.Generator) -> list[str]:
    """The arena's votes in a random order over ten days; returns the model names."""
    models = [f"model-{i:02d}" for i in range(len(ar.theta))]
    order = rng.permutation(len(ar.a))
    times = [T0 + timedelta(seconds=int(s)) for s in np.sort(rng.integers(0, 10 * 86_400, len(order)))]
    engine = create_engine(url)
    try:
        insert_votes(
            engine,
            models,
            [judge_hash(int(j)) for j in ar.judge[order]],
            ar.a[order],
            ar.b[order],
            ar.o[order],
            times,
            tokens_a=ar.tokens_a[order],
            tokens_b=ar.tokens_b[order],
        )
    finally:
        engine.dispose()
    return models
