"""``arena leaderboard fit`` on FastChat files: categories from FastChat's fields, FastChat's filters
(checked against the same filters done with pandas as elo_analysis.py does them), style control from
conv_metadata and its refusals."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from arena_app.cli.main import main
from arena_app.files.battle_readers import BattleFileError
from arena_app.services.leaderboard_service import ComputeParams, FileFilters, fit_file
from tests.imports.fastchat_data import battles, write_array, write_lines

PARAMS = ComputeParams(rounds=10, fragility=False)


@pytest.fixture(scope="module")
def clean_battle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_array(tmp_path_factory.mktemp("fc") / "clean_battle.json", battles(800, seed=7))


def _fastchat_filtered(path: Path, *, langs: list[str], exclude: list[str], no_ties: bool) -> pd.DataFrame:
    """elo_analysis.report_elo_analysis_results' filters, in its order."""
    df = pd.read_json(path).sort_values("tstamp")
    if langs:
        df = df[df["language"].isin(langs)]
    df = df[~(df["model_a"].isin(exclude) | df["model_b"].isin(exclude))]
    df = df[df["anony"]].reset_index(drop=True)
    if no_ties:
        df = df[~df["winner"].str.contains("tie")]
    return df


def test_filters_match_fastchat(clean_battle: Path, tmp_path: Path) -> None:
    filters = FileFilters(
        exclude_models=("echo-pro", "nobody"), exclude_ties=True, langs=("English", "German")
    )
    out = fit_file(clean_battle, PARAMS, filters=filters)
    expected = _fastchat_filtered(
        clean_battle, langs=["English", "German"], exclude=["echo-pro"], no_ties=True
    )
    assert len(out.battles.model_a) == len(expected) > 0
    assert out.unknown_excluded == ["nobody"]
    assert "echo-pro" not in out.result.models
    assert out.battles.dropped["language not in --langs"] > 0
    # the same ratings as a file that holds only those battles
    kept = write_lines(tmp_path / "kept.jsonl", expected.to_dict("records"))
    ref = fit_file(kept, PARAMS).result
    assert dict(zip(ref.models, ref.rating, strict=True)) == pytest.approx(
        dict(zip(out.result.models, out.result.rating, strict=True)), abs=1e-9
    )


@pytest.mark.parametrize(
    ("category", "select"),
    [
        ("code", lambda r: r["is_code"]),
        ("hard_6", lambda r: sum(r["category_tag"]["criteria_v0.1"].values()) >= 6),
        ("if", lambda r: r["category_tag"]["if_v0.1"]["if"]),
        ("math", lambda r: r["category_tag"]["math_v0.1"]["math"]),
        ("long_user", lambda r: r["conv_metadata"]["sum_user_tokens"] >= 500),
        ("multi_turn", lambda r: r["turn"] >= 2),
    ],
)
def test_categories_from_fastchat_fields(clean_battle: Path, category: str, select: object) -> None:
    rows = [r for r in battles(800, seed=7) if r["anony"] and select(r)]  # type: ignore[operator]
    out = fit_file(clean_battle, PARAMS, category=category)
    assert len(out.battles.model_a) == len(rows) > 0


def test_style_control_needs_conv_metadata(tmp_path: Path) -> None:
    rows = battles(50, seed=8)
    for r in rows[:5]:
        del r["conv_metadata"]
    out = fit_file(write_array(tmp_path / "b.json", rows), ComputeParams(rounds=5, style_control=True))
    assert out.battles.dropped["no conv_metadata (style control)"] == 5 - sum(
        not r["anony"] for r in rows[:5]
    )
    assert out.result.style is not None
    bare = write_lines(
        tmp_path / "bare.jsonl", [{k: r[k] for k in ("model_a", "model_b", "winner")} for r in rows]
    )
    with pytest.raises(BattleFileError, match="style control needs FastChat's conv_metadata"):
        fit_file(bare, ComputeParams(rounds=5, style_control=True))
    csv = tmp_path / "b.csv"
    csv.write_text("model_a,model_b,winner\na,b,model_a\n")
    with pytest.raises(BattleFileError, match="which a CSV file has not"):
        fit_file(csv, ComputeParams(rounds=5, style_control=True))
    with pytest.raises(BattleFileError, match="--langs needs a 'language'"):
        fit_file(bare, PARAMS, filters=FileFilters(langs=("English",)))


def test_cli_fit_style_and_filters(clean_battle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["leaderboard", "fit", str(clean_battle), "--rounds", "10", "--no-fragility", "--style-control"]
    assert main([*argv, "--exclude-ties", "--exclude-models", "delta-mini", "--langs", "English"]) == 0
    out = capsys.readouterr().out
    assert "style coefficients: tokens +" in out
    assert "dropped" in out and "tie (--exclude-ties)" in out and "delta-mini" not in out.split("rank")[1]


def test_daily_vote_cap_matches_fastchat(tmp_path: Path) -> None:
    rows = battles(900, seed=9)
    for i, r in enumerate(rows):  # few judges, several votes each per day
        r["judge"] = f"arena_user_{i % 7}"
        r["tstamp"] = 1_720_000_000.0 + 3_000.0 * i
    path = write_array(tmp_path / "b.json", rows)
    out = fit_file(path, PARAMS, filters=FileFilters(daily_vote_cap=3))
    # elo_analysis.limit_user_votes: sorted by time, the first N of each (judge, date); pandas dates are UTC
    df = _fastchat_filtered(path, langs=[], exclude=[], no_ties=False)
    df["date"] = pd.to_datetime(df["tstamp"], unit="s").dt.date
    expected = df.groupby(["judge", "date"]).head(3)
    assert 0 < len(out.battles.model_a) == len(expected) < len(df)
    assert out.battles.dropped["over --daily-vote-cap"] == len(df) - len(expected)
    ref = fit_file(
        write_lines(tmp_path / "kept.jsonl", expected.drop(columns="date").to_dict("records")), PARAMS
    )
    assert dict(zip(ref.result.models, ref.result.rating, strict=True)) == pytest.approx(
        dict(zip(out.result.models, out.result.rating, strict=True)), abs=1e-9
    )
    assert out.battles.cluster is None  # read for the cap only
    with pytest.raises(ValueError, match="cannot be combined with --cluster conversation"):
        fit_file(path, ComputeParams(rounds=5, ci="cluster-sandwich", cluster="conversation"),
                 filters=FileFilters(daily_vote_cap=3))  # fmt: skip


def test_style_matrix_fast_path_agrees_with_row_by_row() -> None:
    import numpy as np

    from arena_app.files.fastchat_rows import style_cell, style_matrix

    metas: list[object] = [r["conv_metadata"] for r in battles(40, seed=10)]
    keys = ("sum_assistant_{}_tokens", "header_count_{}", "list_count_{}", "bold_count_{}")
    ints = {k.format(side): 3 for side in "ab" for k in keys}
    odd: list[object] = [ints, None, {"sum_assistant_a_tokens": 1}, {**ints, "bold_count_b": {"**": -4}}, "x"]
    for rows in (metas, [ints] * 5, metas[:10] + odd):
        got = style_matrix(rows)
        want = [style_cell(m) for m in rows]
        for row, cell in zip(got, want, strict=True):
            assert (np.isnan(row).all() and cell is None) or row.tolist() == list(cell or ())


@pytest.mark.parametrize("layout", ["indent=2", "one per line"])
def test_nested_arrays_are_read_in_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    import json

    from arena_app.files import json_pieces

    rows = battles(300, seed=11)
    path = tmp_path / "b.json"
    if layout == "indent=2":
        write_array(path, rows)
    else:
        path.write_text("[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n")
    reference = fit_file(write_lines(tmp_path / "b.jsonl", rows), ComputeParams(rounds=5, style_control=True))
    monkeypatch.setattr(json_pieces, "PIECE_BYTES", 3000)  # many pieces, each cut at an element's end

    def no_fallback(path: Path) -> None:
        raise AssertionError("read with ijson: the pieces did not parse")

    monkeypatch.setattr("arena_app.files.battle_readers.ijson_pieces", no_fallback)
    out = fit_file(path, ComputeParams(rounds=5, style_control=True))
    assert out.result.models == reference.result.models
    assert out.result.rating == pytest.approx(reference.result.rating, abs=1e-9)
    assert out.result.style is not None and reference.result.style is not None
    assert out.result.style.rating == pytest.approx(reference.result.style.rating, abs=1e-9)
