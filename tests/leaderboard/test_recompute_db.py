"""Recompute through a real database (SQLite and PostgreSQL), the snapshot view, and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import Integer, literal, null, select, text
from sqlalchemy.orm import Session

from arena_app.cli.main import main
from arena_app.services.leaderboard_service import RecomputeParams, latest_view, recompute
from arena_app.services.leaderboard_votes import vote_selection
from arena_app.storage import leaderboard_queries as q
from arena_app.storage.db import make_engine, make_session_factory
from arena_app.storage.pg_copy_rows import CopyFormatError, copy_int4_columns
from leaderboard.compute import BattleData, ComputeParams, StyleRows, compute_leaderboard
from leaderboard.data import aggregate
from tests.leaderboard.seed import insert_battles, simulate_battles


@pytest.fixture
def seeded(db_url):
    engine = make_engine(db_url)
    data = simulate_battles(1500, 6, seed=4)
    insert_battles(engine, data)
    yield db_url, engine, data
    engine.dispose()


def _expected(data, mask, params):
    """The same computation on in-memory arrays: what the SQL path must reproduce exactly."""
    used = sorted({data.models[i] for i in np.concatenate([data.a[mask], data.b[mask]])})
    remap = {data.models.index(n): k for k, n in enumerate(used)}
    a = np.array([remap[i] for i in data.a[mask]])
    b = np.array([remap[i] for i in data.b[mask]])
    o = data.o[mask]
    style = StyleRows(a, b, o, data.style_a[mask].astype(float), data.style_b[mask].astype(float))
    return compute_leaderboard(BattleData(used, aggregate(a, b, o, len(used)), (a, b, o), style), params)


def test_recompute_counts_only_anonymous_unexcluded_votes_and_matches_in_memory_fit(seeded):
    url, engine, data = seeded
    params = ComputeParams(rounds=60, seed=5, style_control=True)
    out = recompute(make_session_factory(engine), RecomputeParams(("overall", "multi_turn", "code"), params))
    by_cat = {o.category: o for o in out}
    counted = data.counted()
    masks = {"overall": counted, "multi_turn": counted & (data.turns >= 2), "code": counted & data.code}
    for cat, mask in masks.items():
        got = by_cat[cat]
        assert got.vote_count == int(mask.sum()) and got.snapshot_id is not None
        want = _expected(data, mask, params)
        assert got.result.models == want.models
        np.testing.assert_allclose(got.result.rating, want.rating, atol=1e-9)
        np.testing.assert_allclose(got.result.lower, want.lower, atol=1e-9)
        np.testing.assert_allclose(got.result.online_elo, want.online_elo, atol=1e-9)
        np.testing.assert_allclose(got.result.style.rating, want.style.rating, atol=1e-7)
    # tokens favour the longer answer in the simulation: style control must see it
    assert by_cat["overall"].result.style.coefficients["tokens"] > 0.05


def test_sql_group_by_path_gives_the_same_fit_as_the_row_path(seeded):
    url, engine, data = seeded
    factory = make_session_factory(engine)
    params = ComputeParams(rounds=40, seed=1)
    grouped = recompute(factory, RecomputeParams(("overall", "code"), params, online_elo=False))
    rows = recompute(factory, RecomputeParams(("overall", "code"), params, online_elo=True))
    for g, r in zip(grouped, rows, strict=True):
        assert g.vote_count == r.vote_count
        assert g.result.models == r.result.models
        np.testing.assert_allclose(g.result.rating, r.result.rating, atol=1e-9)
        np.testing.assert_allclose(g.result.upper, r.result.upper, atol=1e-9)
        assert all(np.isnan(g.result.online_elo)) and not any(np.isnan(r.result.online_elo))


def test_latest_view_renders_the_newest_snapshot(seeded):
    url, engine, data = seeded
    factory = make_session_factory(engine)
    empty = latest_view(factory)
    assert empty.rows == [] and "arena leaderboard recompute" in empty.message
    recompute(factory, RecomputeParams(compute=ComputeParams(rounds=30, style_control=True, min_votes=400)))
    view = latest_view(factory)
    assert view.message is None and view.created_at is not None
    assert view.total_votes == int(data.counted().sum()) and view.total_models == 6
    assert [r.rating for r in view.rows] == sorted((r.rating for r in view.rows), reverse=True)
    assert all(r.lower <= r.rating <= r.upper for r in view.rows)
    assert all(r.preliminary == (r.votes < 400) for r in view.rows)
    assert set(view.figures) == {"ratings", "win_fraction", "battle_count", "average_win_rate"}
    assert view.categories == ["overall"]
    styled = latest_view(factory, style_control=True)
    assert styled.style_control and set(styled.style_coefficients) == {"tokens", "headers", "lists", "bold"}
    assert [r.model for r in styled.rows] != [] and styled.rows[0].rating != view.rows[0].rating
    assert "--category code" in latest_view(factory, "code").message
    with pytest.raises(ValueError, match="invalid category"):
        latest_view(factory, "Bad Name")


def test_cli_recompute_and_show(seeded, capsys, tmp_path):
    url, engine, data = seeded
    rc = main(["leaderboard", "recompute", "--database-url", url, "--rounds", "40", "--category", "all"])
    out = capsys.readouterr().out
    assert rc == 0
    assert f"category overall: {int(data.counted().sum()):,} votes, 6 models" in out
    assert "category code:" in out and "style coefficients: tokens" in out
    assert main(["leaderboard", "show", "--database-url", url, "--category", "code"]) == 0
    assert "model-0" in capsys.readouterr().out
    out_csv = tmp_path / "styled.csv"
    assert main(["leaderboard", "show", "--database-url", url, "--style-control", "--out", str(out_csv)]) == 0
    header = out_csv.read_text().splitlines()[0]
    assert header == "model,rating,lower,upper,rank_ub,votes,online_elo,style_rating,style_lower,style_upper"
    capsys.readouterr()
    assert (
        main(["leaderboard", "recompute", "--database-url", url, "--anchor", "nope=1114", "--rounds", "5"])
        == 1
    )
    assert "anchor model 'nope' has no counted battles" in capsys.readouterr().err
    snapshots = _snapshot_count(engine)
    assert main(["leaderboard", "recompute", "--database-url", url, "--category", "cdoe"]) == 1
    err = capsys.readouterr().err
    assert "unknown category 'cdoe'" in err and "available: overall, multi_turn" in err
    assert _snapshot_count(engine) == snapshots  # refused before anything was computed or stored


def test_recompute_all_with_an_anchor_skips_empty_categories(seeded, capsys):
    url, engine, _ = seeded
    argv = ["leaderboard", "recompute", "--database-url", url, "--rounds", "5", "--category", "all"]
    assert main([*argv, "--anchor", "model-00=1114"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "category long_prompt: no counted votes; no snapshot stored" in out  # nothing to anchor there
    assert "category overall:" in out and "category code:" in out
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT DISTINCT category FROM leaderboard_snapshots")).scalars().all()
    assert "long_prompt" not in stored and {"overall", "code"} <= set(stored)


def _snapshot_count(engine):
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM leaderboard_snapshots")).scalar_one()


def _assert_same_rows(got, want):
    assert got.models == want.models
    for g, w in [(got.model_a, want.model_a), (got.model_b, want.model_b), (got.outcome, want.outcome)]:
        assert g.dtype == w.dtype and np.array_equal(g, w)
    if want.features_a is None:
        assert got.features_a is None and got.features_b is None
    else:
        assert np.array_equal(got.features_a, want.features_a) and np.array_equal(
            got.features_b, want.features_b
        )


@pytest.mark.postgres
def test_postgres_binary_copy_rows_equal_the_generic_cursor_rows(postgres_url, monkeypatch):
    engine = make_engine(postgres_url)
    data = simulate_battles(1500, 6, seed=4)
    insert_battles(engine, data)
    copies, name_lists = [], []
    real_copy, real_rows = q.copy_int4_columns, q._pg_rows

    def spy_copy(*args, **kwargs):
        copies.append(args[2])
        return real_copy(*args, **kwargs)

    def spy_rows(s, selection, with_style, names):
        name_lists.append(names)
        return real_rows(s, selection, with_style, names)

    monkeypatch.setattr(q, "copy_int4_columns", spy_copy)
    monkeypatch.setattr(q, "_pg_rows", spy_rows)

    def check(fallback=()):
        for category in ("overall", "multi_turn", "code"):
            for with_style in (True, False):
                copies.clear(), name_lists.clear()
                with Session(engine) as s:
                    got = q.counted_battle_rows(s, vote_selection(category), with_style=with_style)
                    want = q._counted_battle_rows_generic(s, vote_selection(category), with_style=with_style)
                _assert_same_rows(got, want)
                # one binary COPY per name list: the conversations' names, then the battles' on fallback
                assert len(name_lists) == (2 if category in fallback else 1)
                assert copies == [11 if with_style else 3] * len(name_lists)
        return got

    rows = check()
    assert len(rows.model_a) == int((data.counted() & data.code).sum()) and rows.models == data.models
    with Session(engine) as s:
        counted = np.flatnonzero(data.counted()) + 1  # battle ids follow the seed order
        s.execute(text("UPDATE battles SET model_a = 'renamed' WHERE id = :i"), {"i": int(counted[0])})
        s.execute(text("UPDATE battles SET model_b = model_a WHERE id = :i"), {"i": int(counted[1])})
        s.commit()
    # a battle model no conversation has: the fast path falls back to the battles' names, still equal
    with Session(engine) as s:
        rows = q.counted_battle_rows(s, vote_selection("overall"), with_style=True)
        assert "renamed" in rows.models and len(rows.model_a) == int(data.counted().sum()) - 1
    renamed = counted[0] - 1
    in_category = {"overall": True, "multi_turn": data.turns[renamed] >= 2, "code": data.code[renamed]}
    check(fallback={c for c, inside in in_category.items() if inside})
    engine.dispose()


@pytest.mark.postgres
def test_postgres_copy_rejects_nulls_and_restores_settings(postgres_url):
    engine = make_engine(postgres_url)
    with Session(engine) as s:
        before = s.execute(text("SELECT current_setting('work_mem')")).scalar_one()
        got = copy_int4_columns(
            s, select(literal(7, Integer), literal(-3, Integer)), 2, settings={"work_mem": "77MB"}
        )
        assert got.tolist() == [[7, -3]] and got.dtype == np.int32
        assert s.execute(text("SELECT current_setting('work_mem')")).scalar_one() == before
        with pytest.raises(CopyFormatError, match="NULL"):
            copy_int4_columns(s, select(literal(1, Integer), null()), 2)
    engine.dispose()
