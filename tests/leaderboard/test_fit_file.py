"""`arena leaderboard fit` on files: our CSV export (round trip through export_votes), FastChat JSON,
JSON Lines."""

from __future__ import annotations

import csv
import json
import os
import random
from pathlib import Path

import numpy as np
import pytest

from arena_app.cli.main import main
from arena_app.files.battle_files import BattleFileError, read_battles
from arena_app.services.export import ExportOptions, export_votes
from arena_app.services.leaderboard_service import RecomputeParams, fit_file, recompute
from arena_app.storage.db import make_engine, make_session_factory
from leaderboard.compute import ComputeParams
from tests.leaderboard.seed import insert_battles, simulate_battles


def test_fit_of_our_csv_export_equals_recompute_from_the_database(sqlite_url, tmp_path):
    engine = make_engine(sqlite_url)
    data = simulate_battles(1200, 5, seed=9)
    insert_battles(engine, data)
    factory = make_session_factory(engine)
    params = ComputeParams(rounds=50, seed=2)
    db = recompute(factory, RecomputeParams(compute=params))[0].result
    out = tmp_path / "votes.csv"
    export_votes(factory, out, ExportOptions(mode="all", include_excluded=True))
    engine.dispose()
    fitted = fit_file(out, params)
    assert fitted.battles.dropped["not anonymous"] == int((data.mode == "named").sum())
    assert fitted.battles.dropped["excluded_reason set"] == int(
        ((data.mode == "anony") & data.excluded).sum()
    )
    assert fitted.result.models == db.models
    np.testing.assert_allclose(fitted.result.rating, db.rating, atol=1e-9)
    np.testing.assert_allclose(fitted.result.lower, db.lower, atol=1e-9)
    np.testing.assert_allclose(fitted.result.online_elo, db.online_elo, atol=1e-9)
    kept = fit_file(out, params, keep_named=True)
    assert len(kept.battles.model_a) == int((~data.excluded).sum())
    multi = fit_file(out, params, category="multi_turn")
    assert len(multi.battles.model_a) == int((data.counted() & (data.turns >= 2)).sum())
    code = fit_file(out, params, category="code")  # tags column: generic CSV path
    assert len(code.battles.model_a) == int((data.counted() & data.code).sum())


def _fastchat_rows():
    return [
        {"model_a": "x", "model_b": "y", "winner": "model_a", "anony": True, "tstamp": 3.0, "turn": 1},
        {"model_a": "y", "model_b": "x", "winner": "model_a", "anony": True, "tstamp": 1.0, "turn": 2},
        {"model_a": "x", "model_b": "z", "winner": "tie (bothbad)", "anony": True, "tstamp": 2.0, "turn": 1},
        {"model_a": "z", "model_b": "y", "winner": "tie", "anony": True, "tstamp": 4.0, "turn": 1},
        {"model_a": "z", "model_b": "x", "winner": "model_b", "anony": False, "tstamp": 5.0, "turn": 1},
        {"model_a": "x", "model_b": "y", "winner": "🤷", "anony": True, "tstamp": 6.0, "turn": 1},
        {"model_a": "x", "model_b": "y", "winner": "", "anony": True, "tstamp": 7.0, "turn": 1},
    ]


def test_fastchat_json_drops_named_reports_unknown_winners_and_sorts_by_time(tmp_path):
    path = tmp_path / "clean_battle_20240814_public.json"
    path.write_text(json.dumps(_fastchat_rows()))
    fb = read_battles(path)
    assert fb.rows_read == 7 and fb.dropped["not anonymous"] == 1
    assert dict(fb.unknown_winners) == {"🤷": 1, "": 1}
    assert fb.models == ["x", "y", "z"]
    # time order: tstamp 1 (y beats x), 2 (x-z bothbad), 3 (x beats y), 4 (z-y tie)
    assert fb.model_a.tolist() == [1, 0, 0, 2] and fb.outcome.tolist() == [0, 3, 0, 2]
    jl = tmp_path / "battles.jsonl"
    jl.write_text("\n".join(json.dumps(r) for r in _fastchat_rows()) + "\n\n")
    fj = read_battles(jl)
    assert fj.model_a.tolist() == fb.model_a.tolist() and dict(fj.unknown_winners) == dict(fb.unknown_winners)


def test_cli_fit_writes_csv_and_json_tables_and_reports_unknown_winners(tmp_path, capsys):
    path = tmp_path / "battles.json"
    path.write_text(json.dumps(_fastchat_rows() * 20))
    out_csv = tmp_path / "ratings.csv"
    assert main(["leaderboard", "fit", str(path), "--out", str(out_csv), "--rounds", "50"]) == 0
    cap = capsys.readouterr()
    assert "dropped 40 rows with an unknown winner" in cap.err and "'🤷' x20" in cap.err
    assert "dropped 20 rows: not anonymous" in cap.out
    rows = list(csv.DictReader(out_csv.open()))
    assert list(rows[0]) == ["model", "rating", "lower", "upper", "rank_ub", "votes", "online_elo"]
    assert {r["model"] for r in rows} == {"x", "y", "z"}
    assert sum(int(r["votes"]) for r in rows) == 2 * 80
    out_json = tmp_path / "ratings.json"
    assert main(["leaderboard", "fit", str(path), "--out", str(out_json), "--ci", "sandwich"]) == 0
    data = json.loads(out_json.read_text())
    assert [r["model"] for r in data] == [r["model"] for r in rows]
    capsys.readouterr()
    assert main(["leaderboard", "fit", str(path), "--out", str(tmp_path / "x.txt")]) == 1
    cap = capsys.readouterr()
    assert "must end in .csv or .json" in cap.err
    assert "battles used" not in cap.out  # refused before fitting
    missing_dir = tmp_path / "no-such-dir" / "ratings.csv"
    assert main(["leaderboard", "fit", str(path), "--out", str(missing_dir)]) == 1
    cap = capsys.readouterr()
    assert f"directory {missing_dir.parent} does not exist" in cap.err
    assert "battles used" not in cap.out  # refused before fitting, naming the directory, not a temp file
    assert oct(out_json.stat().st_mode & 0o777) == oct(0o666 & ~_umask())  # not mkstemp's 0600


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("b.csv", "a,b,c\n1,2,3\n", "CSV header lacks model_a, model_b, winner"),
        ("b.json", '{"model_a": 1}', "lacks model_b, winner"),
        ("b.json", "[{", "not valid JSON"),
        ("b.json", "[1, 2]", "must be a JSON object"),
        ("b.jsonl", '{"model_a": "x", "model_b": "y", "winner": "tie"}\nnot json\n', "line 2 is not JSON"),
        ("b.jsonl", '{"model_a": "x", "model_b": "y", "winner": "tie"}\n\n\n{bad\n', "line 4 is not JSON"),
        ("b.txt", "x", "cannot tell the format"),
        ("b.jsonl", '{"model_a": 5, "model_b": "y", "winner": "tie"}\n', "model names must be strings"),
    ],
)
def test_bad_files_get_specific_messages(tmp_path: Path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(BattleFileError, match=message):
        read_battles(path)


def test_csv_that_is_not_utf8_is_named_in_the_message(tmp_path: Path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("model_a,model_b,winner\ncaf\u00e9,y,model_a\n".encode("latin-1"))
    with pytest.raises(BattleFileError, match="latin1.csv: not UTF-8 text"):
        read_battles(path)


def test_csv_with_quoted_names_and_unsorted_times(tmp_path):
    path = tmp_path / "v.csv"
    header = "vote_id,battle_id,tstamp,mode,model_a,model_b,winner,turn,excluded_reason,judge,tags\n"
    lines = [
        '2,2,2026-01-01T00:00:02.000000Z,anony,"a, the model",b,model_b,1,,j,\n',
        "1,1,2026-01-01T00:00:01.000000Z,anony,b,c,model_a,1,,j,\n",
        '3,3,2026-01-01T00:00:03.000000Z,anony,c,"a, the model",tie,1,,j,\n',
    ]
    path.write_text(header + "".join(lines))
    fb = read_battles(path)
    assert fb.models == ["a, the model", "b", "c"]
    assert fb.model_a.tolist() == [1, 0, 2] and fb.outcome.tolist() == [0, 1, 2]


def test_fast_csv_path_handles_unicode_names_and_re_sorts_unsorted_times(tmp_path):
    header = "vote_id,battle_id,tstamp,mode,model_a,model_b,winner,turn,excluded_reason,judge,tags\r\n"
    lines = [
        "1,1,2026-01-01T00:00:03.000000Z,anony,modèle-α,b,model_a,1,,j,\r\n",
        "2,2,2026-01-01T00:00:01.000000Z,anony,b,modèle-α,tie,2,,j,code\r\n",
        "3,3,2026-01-01T00:00:02.000000Z,named,b,modèle-α,model_b,1,,j,\r\n",
        "4,4,2026-01-01T00:00:04.000000Z,anony,b,c,no-such-winner,1,,j,\r\n",
        "5,5,2026-01-01T00:00:05.000000Z,anony,c,b,model_b,3,identity_leak,j,\r\n",
    ]
    path = tmp_path / "v.csv"
    path.write_bytes((header + "".join(lines)).encode())
    fb = read_battles(path)
    assert fb.models == ["b", "modèle-α"]
    assert fb.model_a.tolist() == [0, 1] and fb.outcome.tolist() == [2, 0]  # time order: vote 2, then 1
    assert fb.dropped["not anonymous"] == 1 and fb.dropped["excluded_reason set"] == 1
    assert dict(fb.unknown_winners) == {"no-such-winner": 1}
    multi = read_battles(path, category="multi_turn")
    assert multi.model_a.tolist() == [0] and multi.dropped["outside the category"] == 2


def test_json_streams_flat_rows_in_pieces_and_restarts_whole_for_nested_rows(tmp_path, monkeypatch):
    import arena_app.files.battle_readers as readers

    monkeypatch.setattr(readers, "JSON_BLOCK_BYTES", 150)  # many pieces
    rows = _fastchat_rows() * 5
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps(rows, indent=2))
    whole = read_battles(flat)
    assert whole.rows_read == 35 and dict(whole.unknown_winners) == {"🤷": 5, "": 5}
    # the conversation release nests messages; here only the last rows do, after pieces were used
    nested = [dict(r) for r in rows]
    nested[-1]["conversation_a"] = [{"role": "user", "content": "hi {there}"}]
    path = tmp_path / "nested.json"
    path.write_text(json.dumps(nested, indent=1))
    again = read_battles(path)
    assert again.rows_read == 35
    assert (
        again.model_a.tolist() == whole.model_a.tolist() and again.outcome.tolist() == whole.outcome.tolist()
    )


def test_rows_without_two_different_models_are_dropped_and_counted_in_every_format(tmp_path):
    rows = [
        {"model_a": "x", "model_b": "y", "winner": "model_a", "anony": True, "tstamp": 1.0},
        {"model_a": "x", "model_b": "", "winner": "model_a", "anony": True, "tstamp": 2.0},
        {"model_a": "y", "model_b": "y", "winner": "tie", "anony": True, "tstamp": 3.0},
        {"model_a": "y", "model_b": "x", "winner": "model_b", "anony": True, "tstamp": 4.0},
    ]
    js = tmp_path / "battles.json"
    js.write_text(json.dumps(rows))
    header = "vote_id,battle_id,tstamp,mode,model_a,model_b,winner,turn,excluded_reason,judge,tags"
    lines = [
        f"{i},{i},2026-01-01T00:00:0{i}Z,anony,{r['model_a']},{r['model_b']},{r['winner']},1,,h,"
        for i, r in enumerate(rows, start=1)
    ]
    csv_path = tmp_path / "votes.csv"
    csv_path.write_text("\n".join([header, *lines]) + "\n")
    for path in (js, csv_path):  # the generic column path and the CSV block parser
        fb = read_battles(path)
        assert fb.rows_read == 4, path
        assert fb.dropped["missing model name"] == 1 and fb.dropped["model against itself"] == 1, path
        assert fb.models == ["x", "y"] and fb.model_a.tolist() == [0, 1] and fb.outcome.tolist() == [0, 1]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_keys_named_late_or_only_in_some_chunks_are_honoured(tmp_path, monkeypatch):
    """Files that omit null keys: a key first seen deep into a chunk, or a timestamp present in one chunk and
    absent from another, must neither be ignored nor lose rows."""
    from arena_app.files import battle_readers

    monkeypatch.setattr(battle_readers, "CHUNK_ROWS", 3)
    rows = [
        {"model_a": "a", "model_b": "b", "winner": "model_a", "anony": True},
        {"model_a": "b", "model_b": "c", "winner": "model_b", "anony": True},
        {"model_a": "c", "model_b": "a", "winner": "tie", "anony": True, "excluded_reason": "identity_leak"},
        {"model_a": "a", "model_b": "c", "winner": "model_a", "anony": True, "tstamp": 20.0},
        {"model_a": "b", "model_b": "a", "winner": "model_b", "anony": True, "tstamp": 10.0},
        {"model_a": "c", "model_b": "b", "winner": "tie", "anony": True, "tstamp": 30.0},
    ]
    path = tmp_path / "battles.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    fb = read_battles(path)
    assert fb.rows_read == 6 and fb.dropped["excluded_reason set"] == 1  # named in the chunk's 3rd row
    assert len(fb.model_a) == 5 and fb.models == ["a", "b", "c"]  # nothing vanished in the sort
    # timed rows first, in time order; the untimed ones after them in file order
    pairs = [(fb.models[x], fb.models[y]) for x, y in zip(fb.model_a, fb.model_b, strict=True)]
    assert pairs == [("b", "a"), ("a", "c"), ("c", "b"), ("a", "b"), ("b", "c")]
    many = [{"model_a": "a", "model_b": "b", "winner": "model_a"} for _ in range(1500)]
    many.append({"model_a": "a", "model_b": "b", "winner": "model_b", "excluded_reason": "rate_limited"})
    late = tmp_path / "late.json"
    late.write_text(json.dumps(many))
    monkeypatch.setattr(battle_readers, "CHUNK_ROWS", 200_000)
    fl = read_battles(late, keep_named=True)
    assert fl.dropped["excluded_reason set"] == 1 and len(fl.model_a) == 1500


@pytest.mark.parametrize("shuffled", [False, True])
def test_an_export_with_quoted_cells_is_read_once_in_order_or_not(tmp_path, monkeypatch, shuffled):
    """pyarrow reads quoted cells (a battle with two tags) in its blocks; the order check carries across
    blocks, and a file out of time order is sorted in memory instead of being read again."""
    from arena_app.files import battle_files, csv_arrow

    monkeypatch.setattr(csv_arrow, "BLOCK_BYTES", 4096)
    header = "vote_id,battle_id,tstamp,mode,model_a,model_b,winner,turn,excluded_reason,judge,tags"
    lines = []
    for i in range(400):
        tags = '"code,multi_turn"' if i >= 200 else ""  # quotes only in the later blocks
        stamp = f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z"
        lines.append(f"{i},{i},{stamp},anony,m{i % 3},m{(i + 1) % 3},model_a,1,,h,{tags}")
    path = tmp_path / "votes.csv"
    order = list(range(400))
    if shuffled:
        random.Random(3).shuffle(order)
    path.write_text("\n".join([header, *(lines[k] for k in order)]) + "\n")
    passes = []
    real = battle_files.csv_chunks
    monkeypatch.setattr(battle_files, "csv_chunks", lambda *a, **k: passes.append(k) or real(*a, **k))
    fb = read_battles(path)
    assert len(fb.model_a) == 400 and len(passes) == 1
    assert [fb.models[k] for k in fb.model_a] == [f"m{i % 3}" for i in range(400)]  # in time order
