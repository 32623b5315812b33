"""The science options end to end, through real databases (SQLite and PostgreSQL), files and the CLI:
`arena leaderboard influence` (a verified flip really flips when its votes are excluded), cluster
intervals recorded in snapshots, Davidson output, weighted fits of stored sampling weights, `judges`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sqlalchemy import bindparam, insert, text

from arena_app.cli.main import main
from arena_app.services.export import ExportOptions, export_votes
from arena_app.services.leaderboard_service import (
    RecomputeParams,
    fit_file,
    latest_snapshot,
    latest_view,
    recompute,
)
from arena_app.storage.db import make_engine, make_session_factory
from arena_app.storage.models import Message
from arena_app.ui.leaderboard_tab import summary_md
from leaderboard.bt import Identification, fit_bt
from leaderboard.clusters import cluster_cells, clustered_sandwich_intervals
from leaderboard.compute import ComputeParams
from leaderboard.data import aggregate
from leaderboard.davidson import fit_davidson
from leaderboard.judges import leave_out_heaviest
from tests.leaderboard.seed import insert_battles, simulate_battles

PROMPTS = 30


@pytest.fixture
def seeded(db_url):
    """1500 battles of 6 models; votes from 50 judges (vote i by c{i % 50}); battle i opens with prompt
    i % 30 (side A's first user message)."""
    engine = make_engine(db_url)
    data = simulate_battles(1500, 6, seed=1)  # a close race: 11 votes change #1
    insert_battles(engine, data)
    with engine.begin() as conn:
        conn.execute(
            insert(Message),
            [
                {
                    "conversation_id": 2 * i + 1,
                    "position": 0,
                    "role": "user",
                    "content": f"prompt {i % PROMPTS}",
                }
                for i in range(len(data.a))
            ],
        )
    yield db_url, engine, data
    engine.dispose()


def _counted_arrays(data):
    """The counted votes as the database orders them (vote id = battle index + 1), with models renumbered
    by name as the leaderboard does."""
    mask = data.counted()
    used = sorted({data.models[i] for i in np.concatenate([data.a[mask], data.b[mask]])})
    remap = np.array([used.index(n) if n in used else -1 for n in data.models])
    idx = np.flatnonzero(mask)
    return used, remap[data.a[idx]], remap[data.b[idx]], data.o[idx], idx


def _by_model(result, values, names):
    pos = {m: k for k, m in enumerate(result.models)}
    return np.array([values[pos[n]] for n in names])


def test_influence_from_the_database_names_votes_whose_exclusion_really_flips_the_top(
    seeded, capsys, tmp_path
):
    url, engine, data = seeded
    factory = make_session_factory(engine)
    before = recompute(factory, RecomputeParams(compute=ComputeParams(rounds=20, fragility=True)))[0].result
    out = tmp_path / "flip.json"
    assert main(["leaderboard", "influence", "--database-url", url, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    got = json.loads(out.read_text())
    assert got["found"] and got["target"] == "top1" and got["n_total"] == int(data.counted().sum())
    ids = got["vote_ids"]
    assert len(ids) == got["n_removed"] == sum(g["count"] for g in got["groups"]) > 0
    assert all(set(g) == {"model_a", "model_b", "winner", "count", "vote_ids"} for g in got["groups"])
    assert sorted(v for g in got["groups"] for v in g["vote_ids"]) == ids
    assert f"{got['n_removed']} of {got['n_total']:,} votes" in printed and "vote ids" in printed
    # the snapshot stored the same verified search, and the tab's summary shows its line
    assert before.fragility is not None and before.fragility.line == got["line"]
    view = latest_view(factory)
    assert view.fragility == got["line"] and got["line"] in summary_md(view)
    assert latest_view(factory, style_control=True).fragility is None

    # exclude exactly those votes and recompute: the #1 model changes
    exclude = text("UPDATE votes SET excluded_reason = 'anomalous_judge' WHERE id IN :ids")
    with engine.begin() as conn:
        conn.execute(exclude.bindparams(bindparam("ids", expanding=True)), {"ids": ids})
    after = recompute(factory, RecomputeParams(compute=ComputeParams(rounds=20)))[0].result
    assert after.total_battles == before.total_battles - len(ids)
    assert after.models[0] != before.models[0]
    # the groups are the removed votes' pairs and outcomes
    with engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT v.id, b.model_a, b.model_b, v.outcome FROM votes v JOIN battles b ON b.id = battle_id"
            )
        ).all()
    rows = {r[0]: r[1:] for r in stored}
    for g in got["groups"]:
        for vid in g["vote_ids"]:
            a, b, outcome = rows[vid]
            assert {a, b} == {g["model_a"], g["model_b"]}
            if g["winner"] == "tie":
                assert outcome in ("tie", "tie (bothbad)")
            else:
                winner = g[g["winner"]]
                assert (a if outcome == "model_a" else b) == winner


def _write_fastchat(path, models, a, b, o, **extra):
    names = ("model_a", "model_b", "tie", "tie (bothbad)")
    rows = []
    for k in range(len(a)):
        row = {"model_a": models[a[k]], "model_b": models[b[k]], "winner": names[o[k]], "anony": True}
        row["tstamp"] = 1_700_000_000 + k
        for key, values in extra.items():
            row[key] = values[k]
        rows.append(row)
    path.write_text(json.dumps(rows))


def _file_arena(n=2000, seed=3):
    rng = np.random.default_rng(seed)
    m = 6
    theta = np.array([0.5, 0.45, 0.2, 0.0, -0.3, -0.8])
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    p = 1 / (1 + np.exp(theta[b] - theta[a]))
    u = rng.random(n)
    o = np.where(u < 0.15, 2, np.where(rng.random(n) < p, 0, 1))
    return [f"m{k}" for k in range(m)], a, b, o


def _drop_groups(models, a, b, o, groups):
    """Remove each group's count of battles (the first in file order) from the arrays."""
    keep = np.ones(len(a), dtype=bool)
    for g in groups:
        i, j = models.index(g["model_a"]), models.index(g["model_b"])
        if g["winner"] == "tie":
            hit = o >= 2
        else:
            winner = i if g["winner"] == "model_a" else j
            hit = ((a == winner) & (o == 0)) | ((b == winner) & (o == 1))
        rows = np.flatnonzero(keep & hit & (((a == i) & (b == j)) | ((a == j) & (b == i))))
        assert len(rows) >= g["count"]
        keep[rows[: g["count"]]] = False
    return a[keep], b[keep], o[keep]


@pytest.mark.parametrize("target", [["top1"], ["top2"], ["pair", "m2,m3"]])
def test_influence_on_a_file_finds_a_set_whose_removal_changes_the_target(tmp_path, capsys, target):
    models, a, b, o = _file_arena()
    path = tmp_path / "battles.json"
    _write_fastchat(path, models, a, b, o)
    out = tmp_path / "set.json"
    assert main(["leaderboard", "influence", str(path), "--target", *target, "--out", str(out)]) == 0
    got = json.loads(out.read_text())
    assert got["found"] and "vote_ids" not in got and got["n_total"] == len(a)
    assert f"{got['n_removed']} votes" in capsys.readouterr().out

    def order(a_, b_, o_):
        fit = fit_bt(aggregate(a_, b_, o_, len(models)))
        return list(np.argsort(-fit.theta, kind="stable"))

    full, cut = order(a, b, o), order(*_drop_groups(models, a, b, o, got["groups"]))
    if target == ["top1"]:
        assert cut[0] != full[0]
    elif target == ["top2"]:
        assert cut[:2] != full[:2]
    else:
        assert (full.index(2) < full.index(3)) != (cut.index(2) < cut.index(3))


def test_influence_refuses_bad_targets_before_reading_anything(tmp_path, capsys):
    models, a, b, o = _file_arena(300)
    path = tmp_path / "battles.json"
    _write_fastchat(path, models, a, b, o)
    out = tmp_path / "never.json"
    for bad, message in [
        (["top0"], "expected top1, topK"),
        (["pair", "m1"], "expected top1, topK"),
        (["pair", "m1,nope"], "no counted votes for 'nope'"),
    ]:
        assert main(["leaderboard", "influence", str(path), "--target", *bad, "--out", str(out)]) == 1
        assert message in capsys.readouterr().err
    assert main(["leaderboard", "influence", str(path), "--out", str(tmp_path / "x.csv")]) == 1
    assert "--out must end in .json" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("cluster, expected", [("judge", 50), ("conversation", PROMPTS)])
def test_cluster_intervals_from_the_database_are_recorded_in_the_snapshot(seeded, capsys, cluster, expected):
    url, engine, data = seeded
    argv = [
        "leaderboard",
        "recompute",
        "--database-url",
        url,
        "--ci",
        "cluster-sandwich",
        "--cluster",
        cluster,
    ]
    # both read paths: per-vote rows (Elo, style) and the GROUP BY path (neither)
    for extra in ([], ["--no-online-elo", "--no-style-control"]):
        assert main([*argv, *extra, "--no-fragility"]) == 0, capsys.readouterr().err
        assert f"intervals: cluster-sandwich over {expected} " in capsys.readouterr().out
        snap = latest_snapshot(make_session_factory(engine))
        assert snap.params.compute.ci == "cluster-sandwich" and snap.params.compute.cluster == cluster
        assert snap.result.clusters == expected
        names, a, b, o, idx = _counted_arrays(data)
        ids = idx % 50 if cluster == "judge" else idx % PROMPTS
        cells = cluster_cells(a, b, o, len(names), ids)
        fit = fit_bt(cells.pairs)
        lo, hi = clustered_sandwich_intervals(cells, fit, Identification.make(fit.rankable))
        np.testing.assert_allclose(_by_model(snap.result, snap.result.lower, names), lo, atol=1e-7)
        np.testing.assert_allclose(_by_model(snap.result, snap.result.upper, names), hi, atol=1e-7)
    boot = [
        "leaderboard",
        "recompute",
        "--database-url",
        url,
        "--ci",
        "cluster-bootstrap",
        "--cluster",
        cluster,
    ]
    assert main([*boot, "--rounds", "30"]) == 0
    snap = latest_snapshot(make_session_factory(engine))
    assert snap.params.compute.ci == "cluster-bootstrap" and snap.result.clusters == expected


def test_cluster_intervals_from_files_use_the_judge_and_question_id_columns(sqlite_url, tmp_path):
    engine = make_engine(sqlite_url)
    data = simulate_battles(1200, 5, seed=9)
    insert_battles(engine, data)
    factory = make_session_factory(engine)
    params = ComputeParams(ci="cluster-sandwich", cluster="judge")
    db = recompute(factory, RecomputeParams(compute=params))[0].result
    csv_out = tmp_path / "votes.csv"
    export_votes(factory, csv_out, ExportOptions())  # has a judge column (the voter's client hash)
    engine.dispose()
    fitted = fit_file(csv_out, params).result  # the numpy CSV path reads the judge column
    assert fitted.clusters == db.clusters == 50
    np.testing.assert_allclose(fitted.lower, db.lower, atol=1e-9)
    np.testing.assert_allclose(fitted.upper, db.upper, atol=1e-9)
    # FastChat JSON: question_id is the prompt
    models, a, b, o = _file_arena(900)
    path = tmp_path / "battles.json"
    _write_fastchat(path, models, a, b, o, question_id=[f"q{k % 40}" for k in range(len(a))])
    res = fit_file(path, ComputeParams(ci="cluster-sandwich", cluster="conversation")).result
    cells = cluster_cells(a, b, o, len(models), np.arange(len(a)) % 40)
    fit = fit_bt(cells.pairs)
    lo, _ = clustered_sandwich_intervals(cells, fit, Identification.make(fit.rankable))
    assert res.clusters == 40
    np.testing.assert_allclose(_by_model(res, res.lower, models), lo, atol=1e-9)
    with pytest.raises(ValueError, match="no 'judge' field"):
        fit_file(path, ComputeParams(ci="cluster-sandwich", cluster="judge"))


def test_davidson_from_the_database_and_a_file_reports_the_tie_parameter(seeded, capsys, tmp_path):
    url, engine, data = seeded
    for extra in ([], ["--no-online-elo", "--no-style-control"]):
        argv = ["leaderboard", "recompute", "--database-url", url, "--ties", "davidson", "--ci", "sandwich"]
        assert main([*argv, *extra]) == 0
        out = capsys.readouterr().out
        assert "ties: Davidson model" in out and "tie parameter nu = " in out
        snap = latest_snapshot(make_session_factory(engine))
        names, a, b, o, _ = _counted_arrays(data)
        bothbad = float((o == 3).sum())
        d = fit_davidson(aggregate(a, b, o, len(names)), bothbad=bothbad)
        tm = snap.result.tie_model
        assert snap.params.compute.ties == "davidson" and tm is not None
        assert tm.nu == pytest.approx(d.nu, rel=1e-8) and tm.nu_bothbad == pytest.approx(
            d.nu_bothbad, rel=1e-8
        )
        assert f"nu = {tm.nu:.3f}" in out
        rating = Identification.make(d.rankable).ratings(d.theta)
        np.testing.assert_allclose(_by_model(snap.result, snap.result.rating, names), rating, atol=1e-6)
    assert main(["leaderboard", "show", "--database-url", url]) == 0
    assert "tie parameter nu = " in capsys.readouterr().out
    models, a, b, o = _file_arena(800)
    path = tmp_path / "battles.json"
    _write_fastchat(path, models, a, b, o)
    assert main(["leaderboard", "fit", str(path), "--ties", "davidson", "--rounds", "20"]) == 0
    assert "tie parameter nu = " in capsys.readouterr().out


def test_stored_sampling_weights_are_used_by_the_fit_when_they_differ_from_one(seeded):
    url, engine, data = seeded
    factory = make_session_factory(engine)
    plain = recompute(factory, RecomputeParams(compute=ComputeParams(ci="sandwich")))[0].result
    assert not plain.weighted  # every battle weight 1 (the default): the plain fit
    weights = 0.5 + (np.arange(len(data.a)) % 7) / 4  # per battle, as a sampler would record
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE battles SET sampling_weight = :w WHERE id = :id"),
            [{"w": float(w), "id": k + 1} for k, w in enumerate(weights)],
        )
    names, a, b, o, idx = _counted_arrays(data)
    want = Identification.make(np.ones(len(names), bool)).ratings(
        fit_bt(aggregate(a, b, o, len(names), weights[idx])).theta
    )
    for compute in (
        ComputeParams(ci="sandwich"),
        ComputeParams(rounds=30),
        ComputeParams(style_control=True),
    ):
        res = recompute(factory, RecomputeParams(compute=compute))[0].result
        assert res.weighted
        np.testing.assert_allclose(_by_model(res, res.rating, names), want, atol=1e-7)
        assert res.total_battles == len(idx)  # counts, not weight sums
    off = recompute(factory, RecomputeParams(compute=ComputeParams(ci="sandwich", weights="off")))[0].result
    assert not off.weighted and off.rating == plain.rating
    clustered = ComputeParams(ci="cluster-sandwich", cluster="judge")
    res = recompute(factory, RecomputeParams(compute=clustered))[0].result
    assert res.weighted and res.clusters == 50
    np.testing.assert_allclose(_by_model(res, res.rating, names), want, atol=1e-7)


def test_judges_view_from_the_database_and_a_file(seeded, capsys, tmp_path):
    url, engine, data = seeded
    assert main(["leaderboard", "judges", "--database-url", url]) == 0
    out = capsys.readouterr().out
    names, a, b, o, idx = _counted_arrays(data)
    shift = leave_out_heaviest(a, b, o, len(names), idx % 50)
    assert f"{len(idx):,} counted votes from 50 judges" in out
    assert shift.line(names) in out
    assert main(["leaderboard", "judges", "--database-url", url, "--by", "conversation"]) == 0
    assert f"from {PROMPTS} prompts" in capsys.readouterr().out
    models, a, b, o = _file_arena(900)
    judge = [f"u{k % 7 if k % 3 else 0}" for k in range(len(a))]  # u0 casts a third of the votes
    path = tmp_path / "battles.json"
    _write_fastchat(path, models, a, b, o, judge=judge)
    assert main(["leaderboard", "judges", str(path), "--fraction", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "from 7 judges" in out and "the top 10% (1 judge) cast" in out
    codes = np.unique(np.array(judge), return_inverse=True)[1]
    line = leave_out_heaviest(a, b, o, len(models), codes, fraction=0.1).line(models)
    assert line in out and math.isfinite(float(line.split("at most ")[1].split(" ")[0]))
