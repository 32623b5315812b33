"""The stored snapshot: typed values, one JSON round trip, and snapshots written by the earlier code.

``data/snapshot_v1.json`` is a result written by the code as it was before the snapshot became typed
dataclasses (generated once, committed): it has nulls where NaN was (the pairwise diagonal, the interval
of a style feature that never varied) and an unrankable model.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest

from arena_app.cli.main import main
from arena_app.services.errors import Unavailable
from arena_app.services.leaderboard_service import latest_snapshot, latest_view
from arena_app.storage import api
from arena_app.storage.db import make_engine, make_session_factory, session_scope
from leaderboard.result import ComputeParams, LeaderboardResult, SnapshotParams

OLD_RESULT = json.loads((Path(__file__).parent / "data" / "snapshot_v1.json").read_text())
# a snapshot row's params as the earlier recompute stored them: category, online_elo, ComputeParams
OLD_PARAMS = {"category": "overall", "online_elo": True, **OLD_RESULT["params"]}


def test_an_old_result_loads_typed_and_writes_back_the_same_json() -> None:
    res = LeaderboardResult.from_json(copy.deepcopy(OLD_RESULT))
    assert res.models == OLD_RESULT["models"] and res.models[-1] == "zeta"  # zeta never wins: last
    assert res.to_json() == OLD_RESULT
    assert res.params == ComputeParams(rounds=20, seed=3, style_control=True, min_votes=150)
    assert res.unrankable == [m == "zeta" for m in res.models]
    assert res.fit.converged and res.fit.iterations == OLD_RESULT["fit"]["iterations"]
    assert res.style is not None and res.style.fit.converged
    assert res.style.coef_lower["bold"] is None and res.style.coefficients["bold"] == 0.0
    assert all(isinstance(v, float) for v in res.style.rating)
    diagonal = [res.pairwise.win_fraction[i][i] for i in range(len(res.pairwise.models))]
    assert diagonal == [None] * len(diagonal)  # a model never plays itself: no value, not a number
    json.dumps(res.to_json(), allow_nan=False)  # NaN never reaches the stored JSON


def test_nan_is_stored_as_null_and_read_back_as_nan() -> None:
    old = copy.deepcopy(OLD_RESULT)
    old["online_elo"] = [None] * len(old["models"])  # a fit without a battle sequence
    res = LeaderboardResult.from_json(old)
    assert all(math.isnan(v) for v in res.online_elo)
    assert res.to_json()["online_elo"] == [None] * len(old["models"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(version=2), "unsupported leaderboard result version 2"),
        (lambda d: d.pop("rating"), "result: missing 'rating'"),
        (lambda d: d.update(votes=["many"] * 5), "result.votes: expected a list of whole numbers"),
        (lambda d: d["style"].update(rating="high"), "result.style.rating: expected a list"),
        (lambda d: d["params"].update(ci="magic"), "unknown interval method 'magic'"),
        (lambda d: d.update(rank_ub=[1]), "rank_ub do not have one entry per model"),
        (lambda d: d["pairwise"].update(battle_count=[[1.5]]), "result.pairwise.battle_count"),
    ],
)
def test_a_malformed_result_is_refused_naming_the_key(change, message) -> None:
    bad = copy.deepcopy(OLD_RESULT)
    change(bad)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        LeaderboardResult.from_json(bad)


def test_snapshot_params_round_trip_and_defaults() -> None:
    params = SnapshotParams.from_json(OLD_PARAMS)
    assert params.category == "overall" and params.online_elo and params.compute.rounds == 20
    assert params.to_json() == OLD_PARAMS
    # a field that a future version adds is ignored, one an older row lacks takes its default
    sparse = SnapshotParams.from_json({"category": "code", "rounds": 7, "new_knob": 1})
    assert sparse.compute == ComputeParams(rounds=7) and sparse.online_elo is True


def test_a_snapshot_stored_by_the_earlier_code_is_shown(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    with session_scope(factory) as s:
        api.save_snapshot(s, category="overall", params=OLD_PARAMS, vote_count=400, result=OLD_RESULT)
    try:
        snap = latest_snapshot(factory)
        assert snap is not None and snap.params == SnapshotParams.from_json(OLD_PARAMS)
        view = latest_view(factory)
        assert view.message is None and view.total_votes == 400 and view.total_models == 5
        assert [r.model for r in view.rows] == OLD_RESULT["models"]
        assert [r.preliminary for r in view.rows] == OLD_RESULT["preliminary"]
        assert view.params is not None and view.params.compute.min_votes == 150
        assert set(view.figures) == {"ratings", "win_fraction", "battle_count", "average_win_rate"}
        assert json.loads(view.figures["ratings"])["data"][0]["x"] == OLD_RESULT["models"]
        styled = latest_view(factory, style_control=True)
        assert [r.rating for r in styled.rows] == sorted(OLD_RESULT["style"]["rating"], reverse=True)
        assert styled.style_coefficients["tokens"] == OLD_RESULT["style"]["coefficients"]["tokens"]
    finally:
        engine.dispose()
    out = tmp_path / "old.json"
    code = main(["leaderboard", "show", "--database-url", sqlite_url, "--style-control", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "category overall: 400 votes" in printed and "'min_votes': 150" in printed
    written = json.loads(out.read_text())
    assert [r["model"] for r in written] == [
        m for m, v in zip(OLD_RESULT["models"], OLD_RESULT["votes"], strict=True) if v >= 150
    ]


def test_a_database_outage_is_a_service_error() -> None:
    """The Leaderboard tab catches service errors only: an unreachable database must come out as one."""
    engine = make_engine(
        "postgresql+psycopg://postgres@127.0.0.1:1/nowhere", connect_args={"connect_timeout": 3}
    )
    try:
        with pytest.raises(Unavailable, match="not available"):
            latest_view(make_session_factory(engine))
    finally:
        engine.dispose()
