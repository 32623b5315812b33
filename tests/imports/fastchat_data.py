"""FastChat-format battles for the import tests: rows shaped like clean_battle_data.py's output plus the
fields FastChat's later pipeline adds (conv_metadata, category_tag, is_code), from a seeded simulation in
which the models have known strengths and style (longer answers win more often)."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

MODELS = ("alpha-7b", "bravo-13b", "charlie-70b", "delta-mini", "echo-pro")
STRENGTH = {"alpha-7b": -0.4, "bravo-13b": 0.0, "charlie-70b": 0.6, "delta-mini": -0.8, "echo-pro": 0.3}
T0 = 1_720_000_000.0


def _side(rng: random.Random, side: str) -> dict[str, object]:
    return {
        f"sum_assistant_{side}_tokens": rng.randint(20, 900),
        f"header_count_{side}": {f"h{k}": rng.randint(0, 2) if k < 3 else 0 for k in range(1, 7)},
        f"list_count_{side}": {"ordered": rng.randint(0, 4), "unordered": rng.randint(0, 4)},
        f"bold_count_{side}": {"**": rng.randint(0, 3), "__": rng.randint(0, 1)},
    }


def battles(n: int, seed: int = 0, *, named_every: int = 10) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for i in range(n):
        a, b = rng.sample(MODELS, 2)
        meta = {**_side(rng, "a"), **_side(rng, "b"), "sum_user_tokens": rng.randint(5, 900), "turns": 1}
        ta, tb = meta["sum_assistant_a_tokens"], meta["sum_assistant_b_tokens"]
        assert isinstance(ta, int) and isinstance(tb, int)
        logit = (STRENGTH[a] - STRENGTH[b]) + 0.8 * (ta - tb) / (ta + tb + 1)
        u = rng.random()
        if u < 0.15:
            winner = "tie" if rng.random() < 0.7 else "tie (bothbad)"
        else:
            winner = "model_a" if rng.random() < 1 / (1 + math.exp(-logit)) else "model_b"
        turn = 1 if rng.random() < 0.8 else rng.randint(2, 4)
        meta["turns"] = turn
        criteria = {
            k: rng.random() < 0.8
            for k in (
                "specificity",
                "domain_knowledge",
                "complexity",
                "problem_solving",
                "creativity",
                "technical_accuracy",
                "real_world",
            )
        }
        rows.append(
            {
                "question_id": f"q{seed}-{i:06d}",
                "model_a": a,
                "model_b": b,
                "winner": winner,
                "judge": f"arena_user_{rng.randint(0, n // 4)}",
                "turn": turn,
                "anony": i % named_every != 0,
                "language": rng.choice(["English", "English", "Chinese", "German"]),
                "tstamp": T0 + 37.25 * i + rng.random(),
                "conv_metadata": meta,
                "is_code": rng.random() < 0.2,
                "category_tag": {
                    "criteria_v0.1": criteria,
                    "if_v0.1": {"if": rng.random() < 0.3, "score": 3},
                    "math_v0.1": {"math": rng.random() < 0.1},
                    "creative_writing_v0.1": {"creative_writing": rng.random() < 0.1, "score": "no"},
                },
            }
        )
    return rows


def write_array(path: Path, rows: list[dict[str, object]]) -> Path:
    """As clean_battle_data.py writes it: ``json.dump(battles, indent=2, ensure_ascii=False)``."""
    path.write_text(json.dumps(rows, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def write_lines(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path
