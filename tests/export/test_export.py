"""Vote export: content, CSV quoting, JSONL, filters and atomic writes, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import errno
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from export_seed import EPOCH, bulk_seed, set_vote_time
from sqlalchemy import Engine

from arena_app.files.export_rows import COLUMNS
from arena_app.services.export import ExportError, ExportOptions, export_votes, parse_when
from arena_app.storage import api
from arena_app.storage.db import make_session_factory, session_scope
from arena_app.storage.records import StyleCounts

TRICKY = 'Hello, "world"\nline two, with commas;\r\nand ünïcode ✓ =1+1'
NOW = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


def _export(engine: Engine, out: Path, **options: Any) -> int:
    return export_votes(make_session_factory(engine), out, ExportOptions(**options))


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """A directory holding only export output (the SQLite database lives in tmp_path itself)."""
    path = tmp_path / "out"
    path.mkdir()
    return path


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) in (COLUMNS, COLUMNS + ("conversation_a", "conversation_b"))
        return list(reader)


def _seed_story(engine: Engine) -> dict[str, int]:
    """Two battles with tricky text, a regenerated answer, tags, one counted and one excluded vote."""
    factory = make_session_factory(engine)
    with session_scope(factory) as s:
        b1 = api.create_battle(
            s,
            mode="anony",
            model_a='model, "one"',
            model_b="model-two",
            session_id="s1",
            client_hash="judge-1",
        )
        api.add_user_message(s, b1.conversation_a_id, TRICKY)
        api.add_user_message(s, b1.conversation_b_id, TRICKY)
        old = api.add_assistant_message(
            s,
            b1.conversation_a_id,
            "first try",
            created_at=NOW,
            finished_at=NOW,
            ttft_s=0.1,
            output_tokens=2,
            finish_reason="stop",
        )
        api.add_assistant_message(
            s,
            b1.conversation_a_id,
            "second, better\ntry",
            created_at=NOW,
            finished_at=NOW,
            ttft_s=0.1,
            output_tokens=3,
            finish_reason="stop",
            style=StyleCounts(3, 0, 0, 0, False),
            replaces_message_id=old.id,
        )
        api.add_assistant_message(
            s,
            b1.conversation_b_id,
            '"quoted" answer',
            created_at=NOW,
            finished_at=NOW,
            ttft_s=0.2,
            output_tokens=2,
            finish_reason="stop",
        )
        api.add_battle_tags(s, b1.id, ["multi_turn", "code"])
        v1 = api.record_vote(
            s, battle_id=b1.id, outcome="tie (bothbad)", turn_count=1, session_id="s1", client_hash="judge-1"
        )
        b2 = api.create_battle(
            s,
            mode="named",
            model_a="model-two",
            model_b='model, "one"',
            session_id="s2",
            client_hash="judge-2",
        )
        v2 = api.record_vote(
            s,
            battle_id=b2.id,
            outcome="model_b",
            turn_count=0,
            session_id="s2",
            client_hash="judge-2",
            excluded_reason="identity_leak",
        )
    set_vote_time(engine, v1.id, NOW)
    set_vote_time(engine, v2.id, NOW + timedelta(hours=1))
    return {"b1": b1.id, "b2": b2.id, "v1": v1.id, "v2": v2.id}


def test_csv_content_and_quoting(engine: Engine, tmp_path: Path) -> None:
    ids = _seed_story(engine)
    out = tmp_path / "votes.csv"
    assert _export(engine, out, include_excluded=True, with_conversations=True) == 2
    rows = _read_csv(out)
    assert [r["vote_id"] for r in rows] == [str(ids["v1"]), str(ids["v2"])]
    first, second = rows
    assert first == {
        "vote_id": str(ids["v1"]),
        "battle_id": str(ids["b1"]),
        "tstamp": "2026-03-04T05:06:07.890123Z",
        "mode": "anony",
        "model_a": 'model, "one"',
        "model_b": "model-two",
        "winner": "tie (bothbad)",
        "turn": "1",
        "excluded_reason": "",
        "judge": "judge-1",
        "tags": "code,multi_turn",
        "conversation_a": first["conversation_a"],
        "conversation_b": first["conversation_b"],
    }
    assert json.loads(first["conversation_a"]) == [
        {"role": "user", "content": TRICKY},
        {"role": "assistant", "content": "second, better\ntry"},
    ]  # the superseded first try is not exported
    assert json.loads(first["conversation_b"]) == [
        {"role": "user", "content": TRICKY},
        {"role": "assistant", "content": '"quoted" answer'},
    ]
    assert datetime.fromisoformat(first["tstamp"]) == NOW
    assert (second["mode"], second["winner"]) == ("named", "model_b")
    assert second["excluded_reason"] == "identity_leak"
    assert second["tags"] == "" and json.loads(second["conversation_a"]) == []
    raw = out.read_bytes()
    assert b'"model, ""one"""' in raw  # RFC 4180: quoted cell, doubled quotes
    header = b"vote_id,battle_id,tstamp,mode,model_a,model_b,winner,turn,excluded_reason,judge,tags"
    assert raw.startswith(header)


def test_jsonl_content(engine: Engine, tmp_path: Path) -> None:
    ids = _seed_story(engine)
    out = tmp_path / "votes.jsonl"
    assert _export(engine, out, fmt="jsonl", include_excluded=True, with_conversations=True) == 2
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert list(first) == [*COLUMNS, "conversation_a", "conversation_b"]
    assert first["vote_id"] == ids["v1"] and first["turn"] == 1 and first["excluded_reason"] is None
    assert first["tags"] == ["code", "multi_turn"] and first["winner"] == "tie (bothbad)"
    assert first["conversation_a"][0] == {"role": "user", "content": TRICKY}
    assert second["excluded_reason"] == "identity_leak" and second["conversation_b"] == []
    plain = tmp_path / "plain.jsonl"
    _export(engine, plain, fmt="jsonl")
    only = [json.loads(line) for line in plain.read_text().splitlines()]
    assert [r["vote_id"] for r in only] == [ids["v1"]] and "conversation_a" not in only[0]


def test_filters(engine: Engine, tmp_path: Path) -> None:
    bulk_seed(engine, 40)  # vote i at EPOCH + (i+1) s; i % 10 == 9 excluded; odd i named
    out = tmp_path / "v.csv"

    def exported(**options: Any) -> list[int]:
        _export(engine, out, **options)
        return [int(r["vote_id"]) for r in _read_csv(out)]

    everything = exported(include_excluded=True)
    assert len(everything) == 40
    counted = exported()
    assert len(counted) == 36
    rows = _read_csv(out)
    assert all(r["excluded_reason"] == "" for r in rows)
    anony = exported(mode="anony", include_excluded=True)
    assert len(anony) == 20 and all(r["mode"] == "anony" for r in _read_csv(out))
    named = exported(mode="named")
    assert len(named) == 16  # 20 named minus the excluded ones (i = 9, 19, 29, 39 are odd)
    # since inclusive, until exclusive: votes i = 4..13 have times EPOCH+5s .. EPOCH+14s
    window = exported(
        since=EPOCH + timedelta(seconds=5), until=EPOCH + timedelta(seconds=15), include_excluded=True
    )
    assert window == everything[4:14]
    tstamps = [parse_when(r["tstamp"]) for r in _read_csv(out)]
    assert min(tstamps) == EPOCH + timedelta(seconds=5) and max(tstamps) == EPOCH + timedelta(seconds=14)
    assert exported(since=EPOCH + timedelta(days=1)) == []
    assert _read_csv(out) == []  # header only


def test_failure_mid_export_leaves_the_old_file(engine: Engine, out_dir: Path) -> None:
    bulk_seed(engine, 50)
    out = out_dir / "votes.csv"
    out.write_text("old export\n")

    def explode(done: int, total: int | None) -> None:
        if done >= 20:
            raise RuntimeError("simulated crash mid-export")

    factory = make_session_factory(engine)
    with pytest.raises(RuntimeError, match="simulated crash"):
        export_votes(factory, out, ExportOptions(), progress=explode, batch_size=10)
    assert out.read_text() == "old export\n"
    assert sorted(p.name for p in out_dir.iterdir()) == ["votes.csv"]  # temp file removed

    fresh = out_dir / "fresh.csv"
    with pytest.raises(RuntimeError):
        export_votes(factory, fresh, ExportOptions(), progress=explode, batch_size=10)
    assert not fresh.exists()
    assert sorted(p.name for p in out_dir.iterdir()) == ["votes.csv"]


def test_disk_full_leaves_the_old_file(
    engine: Engine, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bulk_seed(engine, 5)
    out = out_dir / "votes.csv"
    out.write_text("old export\n")

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError, match="No space"):
        _export(engine, out)
    assert out.read_text() == "old export\n"
    assert [p.name for p in out_dir.iterdir()] == ["votes.csv"]


def test_success_replaces_the_old_file(engine: Engine, out_dir: Path) -> None:
    bulk_seed(engine, 3)
    out = out_dir / "votes.csv"
    out.write_text("old export\n")
    assert _export(engine, out, include_excluded=True) == 3
    assert len(_read_csv(out)) == 3
    assert [p.name for p in out_dir.iterdir()] == ["votes.csv"]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("missing-dir/votes.csv", "does not exist"),
        ("a-file/votes.csv", "does not exist"),
        (".", "is a directory"),
    ],
)
def test_unwritable_output_is_refused(sqlite_url: str, tmp_path: Path, target: str, message: str) -> None:
    from arena_app.storage.db import make_engine

    (tmp_path / "a-file").write_text("x")
    engine = make_engine(sqlite_url)
    with pytest.raises(ExportError, match=message):
        _export(engine, tmp_path / target)
    engine.dispose()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mode": "battle"}, "invalid mode"),
        ({"fmt": "xlsx"}, "invalid format"),
        ({"since": EPOCH, "until": EPOCH}, "earlier than"),
    ],
)
def test_bad_options(sqlite_url: str, tmp_path: Path, options: dict[str, Any], message: str) -> None:
    from arena_app.storage.db import make_engine

    engine = make_engine(sqlite_url)
    with pytest.raises(ExportError, match=message):
        _export(engine, tmp_path / "v.csv", **options)
    assert not (tmp_path / "v.csv").exists()
    engine.dispose()


def test_parse_when() -> None:
    assert parse_when("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_when("2026-11-01T12:30:00Z") == datetime(2026, 11, 1, 12, 30, tzinfo=UTC)
    assert parse_when("2026-11-01T14:30+02:00") == datetime(2026, 11, 1, 12, 30, tzinfo=UTC)
    with pytest.raises(ExportError, match="ISO 8601"):
        parse_when("last tuesday")
