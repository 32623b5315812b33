"""Incremental recompute on real databases (SQLite and PostgreSQL): the tallies give exactly the table of
the full pass and of a rebuild from scratch, on random vote streams with late exclusions and restores;
nothing is stored when nothing changed; options it cannot serve fall back to the full pass, visibly."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection, Engine

from arena_app.cli.main import main
from arena_app.services.leaderboard_lease import RecomputeLease
from arena_app.services.leaderboard_service import RecomputeParams, latest_view, recompute
from arena_app.storage import api
from arena_app.storage import tally_queries as tq
from arena_app.storage.db import make_engine, make_session_factory, session_scope
from arena_app.storage.models import Battle, BattleTag, LeaderboardSnapshot, LeaderboardTally, Vote
from leaderboard.compute import ComputeParams, LeaderboardResult
from tests.leaderboard.seed import Seeded, insert_battles, simulate_battles

PARAMS = ComputeParams(rounds=40, seed=3, fragility=True)
PARAMS_JSON = {"category": "overall", "online_elo": True, **PARAMS.to_json()}


def _table(result: LeaderboardResult | None) -> str:
    assert result is not None
    body = result.to_json()
    body.pop("timings")
    return json.dumps(body, sort_keys=True)


def _stream(seed: int) -> Seeded:
    """A random arena in which the last model only appears halfway through the stream."""
    d = simulate_battles(700, 6, seed=seed)
    late = np.arange(len(d.a)) < 350
    d.a[late & (d.a == 5)] = 0
    d.b[late & (d.b == 5)] = 1
    same = d.a == d.b
    d.b[same] = (d.a[same] + 2) % 5
    return d


def _snapshots(engine: Engine) -> int:
    with engine.connect() as c:
        return int(c.scalar(select(func.count()).select_from(LeaderboardSnapshot)) or 0)


@pytest.mark.parametrize("seed", [11, 12])
def test_incremental_tables_equal_the_full_pass_and_a_rebuild_on_random_vote_streams(
    db_url: str, seed: int
) -> None:
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    d = _stream(seed)
    rng = np.random.default_rng(seed)
    cuts = sorted(set(rng.choice(np.arange(1, 700), size=6, replace=False).tolist())) + [700]
    inc = RecomputeParams(("all",), PARAMS, incremental=True)
    hows: list[str] = []
    marked = [int(i) + 1 for i in np.flatnonzero((d.mode == "anony") & ~d.excluded)[:3]]
    try:
        start = 0
        for n, stop in enumerate(cuts):
            insert_battles(engine, d, start=start, stop=stop)
            start = stop
            if n == 3:  # integrity marks old votes after the fact, and restores one: the tallies rebuild
                with engine.begin() as c:
                    c.execute(
                        update(Vote).where(Vote.id.in_(marked)).values(excluded_reason="anomalous_judge")
                    )
                    c.execute(update(Vote).where(Vote.id == marked[1]).values(excluded_reason=None))
            outcomes = recompute(factory, inc)
            hows.append(outcomes[0].how)
            overall = outcomes[0]
            assert overall.category == "overall" and overall.vote_count > 0
        assert hows[0] == "rebuilt" and hows[1] == "incremental" and hows[3] == "rebuilt"
        assert hows[4:] == ["incremental"] * (len(cuts) - 4)
        last_incremental = {o.category: o for o in recompute(factory, inc)}
        full = {o.category: o for o in recompute(factory, RecomputeParams(("all",), PARAMS))}
        rebuilt = {o.category: o for o in recompute(factory, RecomputeParams(("all",), PARAMS, rebuild=True))}
        for cat, f in full.items():
            if f.result is None:
                assert last_incremental[cat].result is None and rebuilt[cat].result is None
                continue
            assert f.how == "full" and rebuilt[cat].how == "rebuilt"
            assert _table(f.result) == _table(rebuilt[cat].result)
            # the incremental round had nothing new: it computed nothing (the newest snapshot is current)
            assert last_incremental[cat].how == "incremental" and last_incremental[cat].new_votes == 0
            assert not f.stored and not rebuilt[cat].stored  # the same table as the incremental snapshot
        counted = int(((d.mode == "anony") & ~d.excluded).sum()) - 2  # two of the three stay excluded
        assert full["overall"].vote_count == counted
        assert "model-05" in full["overall"].result.models
    finally:
        engine.dispose()


def test_nothing_changed_means_nothing_computed_or_stored(db_url: str) -> None:
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    d = simulate_battles(400, 5, seed=8)
    insert_battles(engine, d, stop=300)
    params = RecomputeParams(("overall", "code"), PARAMS, incremental=True, only_if_changed=True)
    try:
        first = recompute(factory, params)
        assert all(o.stored for o in first) and _snapshots(engine) == 2
        again = recompute(factory, params)
        assert [o.how for o in again] == ["unchanged", "unchanged"] and _snapshots(engine) == 2
        assert all(o.result is None and not o.stored for o in again)
        # without the check the same table is computed again and still not stored
        same = recompute(factory, RecomputeParams(("overall",), PARAMS, incremental=True))
        assert same[0].result is not None and not same[0].stored and _snapshots(engine) == 2
        view = latest_view(factory)
        insert_battles(engine, d, start=300, stop=400)
        newer = int(((d.mode == "anony") & ~d.excluded)[300:].sum())
        assert view.newer_votes == 0 and latest_view(factory).newer_votes == newer
        after = recompute(factory, params)
        assert [o.how for o in after] == ["incremental", "incremental"] and all(o.stored for o in after)
        assert after[0].new_votes == newer and _snapshots(engine) == 4
        assert latest_view(factory).newer_votes == 0
    finally:
        engine.dispose()


def test_options_the_tallies_cannot_serve_fall_back_to_the_full_pass_visibly(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    insert_battles(engine, simulate_battles(300, 4, seed=1))
    try:
        styled = recompute(
            factory, RecomputeParams(compute=ComputeParams(rounds=20, style_control=True), incremental=True)
        )
        assert styled[0].how == "full" and "style control" in (styled[0].note or "")
        clustered = ComputeParams(rounds=20, ci="cluster-sandwich", cluster="judge")
        out = recompute(factory, RecomputeParams(compute=clustered, incremental=True))
        assert out[0].how == "full" and "cluster-sandwich" in (out[0].note or "")
        with engine.connect() as c:  # the full pass leaves the tallies alone
            assert c.scalar(select(func.count()).select_from(LeaderboardTally)) == 0
        plain = RecomputeParams(("overall", "code"), ComputeParams(rounds=20), incremental=True)
        assert [o.how for o in recompute(factory, plain)] == ["rebuilt", "rebuilt"]
        with engine.begin() as c:  # a battle drawn with a weight: --weights auto fits weights, a full pass
            c.execute(update(Battle).where(Battle.id == _first_code_battle(c)).values(sampling_weight=2.0))
        weighted = recompute(factory, replace(plain, rebuild=True))
        assert [o.how for o in weighted] == ["full", "full"] and all(o.result.weighted for o in weighted)
        assert "1 counted votes carry a sampling weight other than 1" in (weighted[0].note or "")
        off = recompute(factory, replace(plain, compute=replace(plain.compute, weights="off")))
        assert [o.how for o in off] == ["incremental", "incremental"] and not off[0].result.weighted
        assert (
            main(
                ["leaderboard", "recompute", "--incremental", "--rounds", "20", "--database-url", sqlite_url]
            )
            == 0
        )
        printed = capsys.readouterr().out
        assert "full pass: style control needs every vote's style counts" in printed
        assert main(["leaderboard", "rebuild", "--database-url", sqlite_url]) == 0
        printed = capsys.readouterr().out
        assert "category overall: " in printed and "rebuilt; changed: snapshot stored" in printed
        assert "category long_prompt: 0 votes, rebuilt; no counted votes" in printed
    finally:
        engine.dispose()


def _first_code_battle(c: Connection) -> int:
    stmt = (
        select(Vote.battle_id)
        .join(Battle, Battle.id == Vote.battle_id)
        .join(BattleTag, BattleTag.battle_id == Vote.battle_id)
        .where(Battle.mode == "anony", Vote.excluded_reason.is_(None), BattleTag.tag == "code")
        .order_by(Vote.id)
        .limit(1)
    )
    return int(c.scalar(stmt) or 0)


def test_an_incremental_command_waits_for_no_one_it_refuses_while_the_lease_is_held(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    insert_battles(engine, simulate_battles(100, 3, seed=1))
    other = RecomputeLease(factory, holder="replica-b")
    try:
        assert other.acquire()
        code = main(["leaderboard", "rebuild", "--database-url", sqlite_url])
        err = capsys.readouterr().err
        assert code != 0 and "another process is recomputing the leaderboard (replica-b until" in err
        with engine.connect() as c:
            assert c.scalar(select(func.count()).select_from(LeaderboardTally)) == 0
        other.release()
        assert main(["leaderboard", "rebuild", "--category", "overall", "--database-url", sqlite_url]) == 0
    finally:
        engine.dispose()


def test_a_tally_advanced_by_another_process_meanwhile_is_not_overwritten(db_url: str) -> None:
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    d = simulate_battles(300, 4, seed=2)
    insert_battles(engine, d, stop=200)
    try:
        recompute(factory, RecomputeParams(compute=PARAMS, incremental=True))
        with session_scope(factory) as s:
            mine, theirs = tq.load_tally(s, "overall"), tq.load_tally(s, "overall")
        assert mine is not None and theirs is not None
        for t, newest in ((theirs, 250), (mine, 260)):
            t.last_vote_id, t.votes_key = newest, f"moved to {newest}"
        with session_scope(factory) as s:
            assert tq.save_tally(s, theirs)
        with session_scope(factory) as s:
            assert not tq.save_tally(s, mine)
        with session_scope(factory) as s:
            stored = tq.load_tally(s, "overall")
        assert stored is not None and stored.last_vote_id == 250
    finally:
        engine.dispose()


def test_prune_deletes_snapshots_identical_to_the_one_before_and_keeps_every_change(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(sqlite_url)
    factory = make_session_factory(engine)
    d = simulate_battles(300, 4, seed=5)
    insert_battles(engine, d, stop=200)
    try:
        first = recompute(factory, RecomputeParams(compute=PARAMS))[0]
        insert_battles(engine, d, start=200, stop=300)
        second = recompute(factory, RecomputeParams(compute=PARAMS))[0]
        assert first.result is not None and second.result is not None and _snapshots(engine) == 2
        with session_scope(factory) as s:  # as the code before retention stored them: a row per round
            for res in (first.result, first.result, second.result, second.result, first.result):
                api.save_snapshot(
                    s, category="overall", params=PARAMS_JSON, vote_count=1, result=res.to_json()
                )
        assert main(["leaderboard", "prune", "--database-url", sqlite_url]) == 0
        assert "category overall: 2 identical snapshot(s) deleted" in capsys.readouterr().out
        with engine.connect() as c:
            kept = c.execute(select(LeaderboardSnapshot.id).order_by(LeaderboardSnapshot.id)).scalars().all()
        assert len(kept) == 5  # first, second, then first / second / first: every change of table
    finally:
        engine.dispose()
