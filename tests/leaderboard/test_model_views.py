"""The leaderboard's per-model page on SQLite and PostgreSQL: head-to-head counts against a small vote set
computed by hand (named battles, excluded votes and self-battles left out; ties as half a win)."""

from __future__ import annotations

import numpy as np
import pytest

from arena_app.services.errors import InputRejected
from arena_app.services.leaderboard_models import head_to_head
from arena_app.storage.db import make_engine, make_session_factory
from tests.leaderboard.seed import Seeded, insert_battles

MODELS = ["ant", "bee", "cat", "dog"]
# (a, b, outcome code: 0 a wins, 1 b wins, 2 tie, 3 tie (bothbad), mode, excluded, turns)
VOTES = [
    (0, 1, 0, "anony", False, 1),  # ant beats bee
    (1, 0, 0, "anony", False, 1),  # bee beats ant
    (1, 0, 1, "anony", False, 2),  # ant beats bee (ant is model_b)
    (0, 1, 2, "anony", False, 2),  # tie
    (0, 2, 3, "anony", False, 1),  # tie (bothbad) with cat
    (2, 0, 0, "anony", False, 1),  # cat beats ant
    (0, 2, 0, "named", False, 1),  # named: not counted
    (0, 2, 0, "anony", True, 1),  # excluded: not counted
    (0, 0, 0, "anony", False, 1),  # a self-battle: no information
    (1, 3, 0, "anony", False, 1),  # not ant's
]


def _seed(url: str) -> None:
    n = len(VOTES)
    col = list(zip(*VOTES, strict=True))
    d = Seeded(
        MODELS,
        np.array(col[0]),
        np.array(col[1]),
        np.array(col[2]),
        np.array(col[3]),
        np.array(col[4]),
        np.array(col[5]),
        np.zeros(n, dtype=bool),
        np.zeros((n, 4), dtype=int),
        np.zeros((n, 4), dtype=int),
    )
    engine = make_engine(url)
    insert_battles(engine, d)
    engine.dispose()


def test_head_to_head_counts_match_the_hand_computed_votes(db_url: str) -> None:
    _seed(db_url)
    factory = make_session_factory(make_engine(db_url))
    h2h = head_to_head(factory, "ant", "overall")
    got = {r.opponent: (r.battles, r.wins, r.losses, r.ties) for r in h2h.rows}
    assert got == {"bee": (4, 2, 1, 1), "cat": (2, 0, 1, 1)}
    assert [r.opponent for r in h2h.rows] == ["bee", "cat"]  # most battles first
    assert h2h.rows[0].win_rate == pytest.approx(2.5 / 4) and h2h.rows[1].win_rate == pytest.approx(0.25)
    assert h2h.battles == 6
    # the category narrows the votes: multi_turn keeps the two votes with two turns (ant won one, a tie)
    multi = head_to_head(factory, "ant", "multi_turn")
    assert [(r.opponent, r.battles, r.wins, r.losses, r.ties) for r in multi.rows] == [("bee", 2, 1, 0, 1)]
    assert head_to_head(factory, "nobody", "overall").rows == []


@pytest.mark.parametrize(("name", "message"), [("  ", "Pick a model"), ("x" * 201, "at most 200")])
def test_an_unusable_model_name_is_refused(sqlite_url: str, name: str, message: str) -> None:
    factory = make_session_factory(make_engine(sqlite_url))
    with pytest.raises(InputRejected, match=message):
        head_to_head(factory, name, "overall")


def test_rating_history_follows_three_snapshots_top_models_only(db_url: str) -> None:
    from arena_app.services.leaderboard_history import rating_history
    from arena_app.services.leaderboard_service import RecomputeParams, latest_snapshot, recompute
    from arena_app.services.view_cache import ViewCache
    from leaderboard.compute import ComputeParams
    from tests.leaderboard.seed import simulate_battles

    d = simulate_battles(300, 4, seed=5)
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    params = RecomputeParams(compute=ComputeParams(rounds=5, style_control=False), online_elo=False)
    expected: list[dict[str, float]] = []
    times = []
    for stop in (100, 200, 300):  # three snapshots, each of more votes
        insert_battles(engine, d, start=stop - 100, stop=stop)
        recompute(factory, params)
        snap = latest_snapshot(factory)
        assert snap is not None
        expected.append(dict(zip(snap.result.models, snap.result.rating, strict=True)))
        times.append(snap.created_at)
    cache: ViewCache = ViewCache()
    history = rating_history(factory, "overall", top=3, cache=cache)
    best = sorted(expected[-1], key=lambda m: -expected[-1][m])[:3]
    assert history.snapshots == 3 and [s.model for s in history.series] == best
    for series in history.series:
        assert series.times == times
        assert series.ratings == pytest.approx([e[series.model] for e in expected])
    assert history.figure is not None and all(f'"name":"{m}"' in history.figure for m in best)
    worst = sorted(expected[-1], key=lambda m: -expected[-1][m])[3]
    assert f'"name":"{worst}"' not in history.figure
    # built once per set of snapshots: the same object until a new snapshot arrives
    assert rating_history(factory, "overall", top=3, cache=cache) is history
    assert rating_history(factory, "code", cache=cache).series == []
    engine.dispose()
