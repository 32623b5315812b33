"""Recompute-time rules on both databases: the SQL daily cap and excluded models agree with the pure
reference masks (leaderboard.filters), in ``arena leaderboard recompute`` and in the serve-time refresh."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import create_engine

from arena_app.cli.main import main
from arena_app.services.leaderboard_refresh import LeaderboardRefresher
from arena_app.services.leaderboard_service import RecomputeParams, VoteRules, recompute
from arena_app.storage.db import make_engine, make_session_factory
from leaderboard.compute import ComputeParams
from leaderboard.filters import daily_cap_mask, excluded_models_mask, resolve_models
from tests.integrity.seed import T0, insert_votes

MODELS = ["m0", "m1", "m2", "m3"]


@pytest.fixture
def seeded(db_url: str):
    """300 votes of 5 judges over 4 days, many close to midnight UTC; 10% named, 5% identity leaks."""
    rng = np.random.default_rng(11)
    n = 300
    a = rng.integers(0, 4, n)
    b = (a + rng.integers(1, 4, n)) % 4
    o = rng.integers(0, 4, n)
    seconds = np.sort(rng.integers(0, 4 * 86_400, n))
    seconds[::7] = (seconds[::7] // 86_400 + 1) * 86_400 - rng.integers(1, 60, len(seconds[::7]))
    seconds.sort()
    judge = rng.integers(0, 5, n)
    named = rng.random(n) < 0.1
    leak = rng.random(n) < 0.05
    engine = create_engine(db_url)
    try:
        for is_named in (False, True):  # insert in id order within each mode; times carry the day
            rows = np.flatnonzero(named == is_named)
            insert_votes(
                engine,
                MODELS,
                [f"judge-{j}" for j in judge[rows]],
                a[rows],
                b[rows],
                o[rows],
                [T0 + timedelta(seconds=int(s)) for s in seconds[rows]],
                excluded=["identity_leak" if leak[i] else None for i in rows],
                mode="named" if is_named else "anony",
            )
    finally:
        engine.dispose()
    anony = np.flatnonzero(~named)
    return db_url, judge[anony], seconds[anony], a[anony], b[anony], leak[anony]


def _expected(seeded, cap: int, excluded: list[str]) -> tuple[int, int, int]:
    """(counted, excluded by the model rule, excluded by the cap) from the pure masks."""
    _, judge, seconds, a, b, leak = seeded
    ex_mask, _ = resolve_models(MODELS, excluded)
    models_ok = excluded_models_mask(a, b, ex_mask)
    base = ~leak & models_ok
    kept = np.zeros(len(a), dtype=bool)
    kept[base] = daily_cap_mask(judge[base], seconds[base].astype(float), cap)
    return int(kept.sum()), int((~leak & ~models_ok).sum()), int((base & ~kept).sum())


@pytest.mark.parametrize(("cap", "excluded"), [(3, []), (5, ["m2"]), (0, ["m1", "m3"])])
def test_the_sql_rules_match_the_pure_masks(seeded, cap: int, excluded: list[str]) -> None:
    url = seeded[0]
    counted, by_model, by_cap = _expected(seeded, cap or 10**6, excluded)
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        rules = VoteRules(daily_vote_cap=cap, excluded_models=tuple(excluded))
        params = RecomputeParams(compute=ComputeParams(rounds=2), online_elo=False, rules=rules)
        (out,) = recompute(factory, params)
        assert out.vote_count == counted
        assert out.excluded.get("excluded_model", 0) == by_model
        assert out.excluded.get("daily_vote_cap", 0) == by_cap
        assert out.excluded["identity_leak"] == int(seeded[5].sum())
        if excluded:
            assert not set(excluded) & set(out.result.models)
        # the serve-time refresh applies the same rules
        refreshed = LeaderboardRefresher(factory, rules=rules).run_once()
        assert refreshed is not None
        overall = next(o for o in refreshed if o.category == "overall")
        assert overall.vote_count == counted and overall.excluded == out.excluded
    finally:
        engine.dispose()


def test_cli_flags_and_a_mistyped_model_is_reported(seeded, capsys) -> None:
    url = seeded[0]
    counted, by_model, by_cap = _expected(seeded, 4, ["m0"])
    argv = ["leaderboard", "recompute", "--database-url", url, "--rounds", "2", "--no-style-control"]
    assert main([*argv, "--daily-vote-cap", "4", "--excluded-models", "m0,mX"]) == 0
    captured = capsys.readouterr()
    assert f"category overall: {counted:,} votes" in captured.out
    assert f"daily_vote_cap {by_cap}" in captured.out and f"excluded_model {by_model}" in captured.out
    assert "warning: --excluded-models names no stored model: mX" in captured.err
    assert main([*argv, "--daily-vote-cap", "-1"]) == 1
    assert "daily_vote_cap" in capsys.readouterr().err
