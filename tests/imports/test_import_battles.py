"""``arena import battles`` and ``arena export votes --format fastchat`` on real files and both databases:
what is stored, re-import adds nothing, bad rows reported (or --strict refuses), and the round trip
FastChat file -> database -> FastChat file keeps the ratings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from arena_app.cli.main import main
from arena_app.services.errors import InputRejected
from arena_app.services.export import ExportOptions, export_votes
from arena_app.services.importing import import_battles, judge_hash
from arena_app.services.leaderboard_service import (
    ComputeParams,
    RecomputeParams,
    fit_file,
    recompute,
)
from arena_app.storage.db import make_engine, make_session_factory
from arena_app.storage.models import Battle, BattleTag, Conversation, Vote
from leaderboard.result import LeaderboardResult
from tests.imports.fastchat_data import battles, write_array, write_lines

SALT = "test-salt"


@pytest.fixture
def factory(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


def _count(factory: sessionmaker[Session], model: type) -> int:
    with factory() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _ratings(res: LeaderboardResult, style: bool = False) -> dict[str, float]:
    values = res.style.rating if style and res.style else res.rating
    return dict(zip(res.models, values, strict=True))


def test_import_keeps_every_field_and_reimport_adds_nothing(
    factory: sessionmaker[Session], tmp_path: Path
) -> None:
    rows = battles(120, seed=1)
    path = write_array(tmp_path / "clean_battle_20240814.json", rows)
    report = import_battles(factory, path, salt=SALT, batch_size=50)
    assert (report.rows_read, report.imported, report.bad_count) == (120, 120, 0)
    with factory() as s:
        first = rows[1]
        b = s.scalars(select(Battle).where(Battle.import_key == f"fastchat:{first['question_id']}")).one()
        assert (b.model_a, b.model_b, b.mode, b.language) == (
            first["model_a"],
            first["model_b"],
            "anony",
            first["language"],
        )
        assert b.turn_count == first["turn"]
        assert abs(b.created_at.timestamp() - float(first["tstamp"])) < 1e-5  # type: ignore[arg-type]
        vote = s.scalars(select(Vote).where(Vote.battle_id == b.id)).one()
        assert vote.outcome == first["winner"] and vote.excluded_reason is None
        assert vote.client_hash == judge_hash(SALT, str(first["judge"]), b.import_key or "")
        assert str(first["judge"]) not in vote.client_hash
        meta = first["conv_metadata"]
        assert isinstance(meta, dict)
        conv_a = s.get(Conversation, b.conversation_a_id)
        assert conv_a is not None
        assert conv_a.answer_tokens == meta["sum_assistant_a_tokens"]
        assert conv_a.header_count == sum(meta["header_count_a"].values())
        assert conv_a.list_count == sum(meta["list_count_a"].values())
        assert conv_a.bold_count == sum(meta["bold_count_a"].values())
        tags = set(s.scalars(select(BattleTag.tag).where(BattleTag.battle_id == b.id)))
        cat = first["category_tag"]
        assert isinstance(cat, dict)
        assert ("code" in tags) == first["is_code"]
        assert ("hard_6" in tags) == (sum(cat["criteria_v0.1"].values()) >= 6)
        assert ("if" in tags) == cat["if_v0.1"]["if"]
        assert ("long_user" in tags) == (meta["sum_user_tokens"] >= 500)
        named = s.scalars(
            select(Battle).where(Battle.import_key == f"fastchat:{rows[0]['question_id']}")
        ).one()
        assert named.mode == "named"  # anony false
    counts = [_count(factory, m) for m in (Battle, Vote, Conversation, BattleTag)]
    again = import_battles(factory, path, salt=SALT, batch_size=50)
    assert (again.imported, again.already_present) == (0, 120)
    assert [_count(factory, m) for m in (Battle, Vote, Conversation, BattleTag)] == counts


def test_bad_rows_are_reported_and_the_rest_imported(factory: sessionmaker[Session], tmp_path: Path) -> None:
    good = battles(6, seed=2)
    bad_winner = {**good[0], "question_id": "bw", "winner": "model_c"}
    no_model = {k: v for k, v in good[1].items() if k != "model_a"} | {"question_id": "nm"}
    bad_meta = {**good[2], "question_id": "bm", "conv_metadata": {"sum_assistant_a_tokens": 3}}
    path = tmp_path / "battles.jsonl"
    write_lines(path, [good[3], bad_winner, no_model, good[4], bad_meta, good[5]])
    with path.open("a") as fh:
        fh.write("{not json\n")
    with pytest.raises(InputRejected) as refused:
        import_battles(factory, path, salt=SALT, strict=True)
    assert "4 of 7 rows are bad" in str(refused.value) and "line 2" in str(refused.value)
    assert _count(factory, Battle) == 0  # --strict: nothing imported
    report = import_battles(factory, path, salt=SALT)
    assert (report.rows_read, report.imported, report.bad_count) == (7, 3, 4)
    reasons = {b.where: b.reason for b in report.bad}
    assert "winner 'model_c'" in reasons["line 2"]
    assert "model_a must be a non-empty string" in reasons["line 3"]
    assert "conv_metadata lacks header_count_a" in reasons["line 5"]
    assert "not JSON" in reasons["line 7"]
    assert _count(factory, Battle) == 3


def test_broken_array_names_where_it_broke(factory: sessionmaker[Session], tmp_path: Path) -> None:
    path = write_array(tmp_path / "b.json", battles(5, seed=3))
    text = path.read_text()
    path.write_text(text[: len(text) * 3 // 4])  # cut off in the fourth element
    with pytest.raises(InputRejected, match=r"not valid JSON after element 2"):
        import_battles(factory, path, salt=SALT, batch_size=2)
    assert _count(factory, Battle) == 2  # the committed batch stays; re-running adds the rest once fixed


@pytest.mark.parametrize("style", [False, True], ids=["plain", "style-control"])
def test_round_trip_keeps_the_ratings(factory: sessionmaker[Session], tmp_path: Path, style: bool) -> None:
    original = write_array(tmp_path / "clean_battle.json", battles(600, seed=4))
    params = ComputeParams(rounds=20, fragility=False, style_control=style)
    from_file = fit_file(original, params).result
    assert (from_file.style is not None) == style
    import_battles(factory, original, salt=SALT, batch_size=256)
    (stored,) = recompute(factory, RecomputeParams(compute=params))
    assert stored.result is not None
    exported = tmp_path / "exported.json"
    n = export_votes(factory, exported, ExportOptions(fmt="fastchat"))
    assert n == 600
    refit = fit_file(exported, params).result
    for res in (stored.result, refit):
        for name, rating in _ratings(from_file).items():
            assert _ratings(res)[name] == pytest.approx(rating, abs=1e-6)
        assert res.online_elo == pytest.approx(from_file.online_elo, abs=1e-6)
        if style:
            assert res.style is not None and from_file.style is not None
            for name, rating in _ratings(from_file, style=True).items():
                assert _ratings(res, style=True)[name] == pytest.approx(rating, abs=1e-6)
            for k, coef in from_file.style.coefficients.items():
                assert res.style.coefficients[k] == pytest.approx(coef, abs=1e-9)
    if style:  # the simulation rewards longer answers: style control sees it
        assert from_file.style is not None and from_file.style.coefficients["tokens"] > 0.1

    # FastChat reads it as elo_analysis.py does: pd.read_json, then its filters and style matrices
    df = pd.read_json(exported)
    assert df["anony"].dtype == bool and df["tstamp"].dtype == float
    anony = df[df["anony"]].sort_values("tstamp")
    assert len(anony) == 540
    assert df["language"].isin(["English", "Chinese", "German"]).all()
    source = {r["question_id"]: r for r in json.loads(original.read_text())}
    for row in df.head(20).to_dict("records"):
        want = source[row["question_id"]]
        assert (row["model_a"], row["winner"], row["turn"]) == (want["model_a"], want["winner"], want["turn"])
        for key in ("header_count_a", "list_count_b", "sum_assistant_b_tokens"):
            value = want["conv_metadata"][key]
            total = value if isinstance(value, int) else sum(value.values())
            got = row["conv_metadata"][key]
            assert (got if type(got) is int else sum(got.values())) == total


def test_cli_import_reports_and_exits_nonzero_on_bad_rows(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_lines(tmp_path / "b.jsonl", [*battles(3, seed=5), {"model_a": "x"}])
    code = main(["import", "battles", str(path), "--database-url", sqlite_url, "--client-id-salt", "s"])
    out = capsys.readouterr()
    assert code == 1
    assert "4 rows read, 3 battles imported, 0 already present, 1 bad" in out.out
    assert "bad row line 4: model_b must be a non-empty string" in out.err or "line 4" in out.err
    assert main(["import", "battles", str(path), "--database-url", sqlite_url, "--client-id-salt", "s"]) == 1
    assert "0 battles imported, 3 already present" in capsys.readouterr().out
