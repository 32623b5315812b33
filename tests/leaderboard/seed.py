"""Bulk-insert synthetic battles and votes straight into the tables (fast, for tests and benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import Engine, insert

from arena_app.storage.models import Battle, BattleTag, Conversation, Vote

OUTCOMES = ("model_a", "model_b", "tie", "tie (bothbad)")


@dataclass
class Seeded:
    models: list[str]
    a: np.ndarray
    b: np.ndarray
    o: np.ndarray
    mode: np.ndarray  # "anony" / "named"
    excluded: np.ndarray  # bool
    turns: np.ndarray
    code: np.ndarray  # bool: tagged "code"
    style_a: np.ndarray  # (n, 4)
    style_b: np.ndarray

    def counted(self) -> np.ndarray:
        return (self.mode == "anony") & ~self.excluded


def simulate_battles(n: int, m: int, seed: int = 0) -> Seeded:
    """A synthetic arena: true strengths, random pairs, style counts that sway outcomes, ties, 10% named
    battles, 5% excluded votes, 1-3 turns, 30% tagged code (bench/leaderboard_recompute.py uses it too)."""
    rng = np.random.default_rng(seed)
    true = rng.normal(0, 1, m)
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    sa = rng.poisson([400, 2, 6, 4], (n, 4))
    sb = rng.poisson([400, 2, 6, 4], (n, 4))
    p = 1 / (1 + np.exp(true[b] - true[a] - 0.3 * np.sign(sa[:, 0] - sb[:, 0])))
    u = rng.random(n)
    o = np.where(u < 0.15, np.where(u < 0.05, 3, 2), np.where(rng.random(n) < p, 0, 1))
    mode = np.where(rng.random(n) < 0.1, "named", "anony")
    return Seeded(
        [f"model-{i:02d}" for i in range(m)],
        a,
        b,
        o,
        mode,
        rng.random(n) < 0.05,
        rng.integers(1, 4, n),
        rng.random(n) < 0.3,
        sa,
        sb,
    )


def insert_battles(
    engine: Engine, d: Seeded, *, batch: int = 50_000, start: int = 0, stop: int | None = None
) -> None:
    """Votes get increasing ids and times in array order (battles ``start..stop-1`` only, when given)."""
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    n = len(d.a) if stop is None else stop
    with engine.begin() as conn:
        for s in range(start, n, batch):
            idx = range(s, min(n, s + batch))
            convs = []
            for i in idx:
                for side, model, st in ((0, d.a[i], d.style_a[i]), (1, d.b[i], d.style_b[i])):
                    convs.append(
                        {
                            "id": 2 * i + side + 1,
                            "mode": str(d.mode[i]),
                            "model_name": d.models[model],
                            "session_id": f"s{i}",
                            "client_hash": "h",
                            "created_at": t0,
                            "answer_tokens": int(st[0]),
                            "header_count": int(st[1]),
                            "list_count": int(st[2]),
                            "bold_count": int(st[3]),
                        }
                    )
            conn.execute(insert(Conversation), convs)
            conn.execute(
                insert(Battle),
                [
                    {
                        "id": i + 1,
                        "mode": str(d.mode[i]),
                        "model_a": d.models[d.a[i]],
                        "model_b": d.models[d.b[i]],
                        "conversation_a_id": 2 * i + 1,
                        "conversation_b_id": 2 * i + 2,
                        "session_id": f"s{i}",
                        "client_hash": "h",
                        "created_at": t0 + timedelta(seconds=i),
                        "turn_count": int(d.turns[i]),
                    }
                    for i in idx
                ],
            )
            conn.execute(
                insert(Vote),
                [
                    {
                        "id": i + 1,
                        "battle_id": i + 1,
                        "outcome": OUTCOMES[d.o[i]],
                        "turn_count": int(d.turns[i]),
                        "excluded_reason": "identity_leak" if d.excluded[i] else None,
                        "session_id": f"s{i}",
                        "client_hash": f"c{i % 50}",
                        "created_at": t0 + timedelta(seconds=i, milliseconds=500),
                    }
                    for i in idx
                ],
            )
            tags = [{"battle_id": i + 1, "tag": "code"} for i in idx if d.code[i]]
            if tags:
                conn.execute(insert(BattleTag), tags)
        if engine.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for table in ("conversations", "battles", "votes"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
                )
