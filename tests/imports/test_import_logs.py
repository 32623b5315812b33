"""``arena import logs DIR`` on FastChat-shaped raw logs (the records gradio_block_arena_anony / named write),
on both databases: battles, votes and conversations rebuilt, FastChat's cleaning rules as excluded_reason,
the ip only hashed, re-import idempotent, bad records reported."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from arena_app.cli.main import main
from arena_app.services.errors import InputRejected
from arena_app.services.importing_logs import import_logs
from arena_app.storage.db import make_engine, make_session_factory
from arena_app.storage.models import Battle, BattleTag, Conversation, Message, Vote

SALT = "logs-salt"
T0 = 1_714_000_000.0


@pytest.fixture
def factory(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


def _state(conv_id: str, model: str, turns: list[tuple[str, str | None]]) -> dict[str, object]:
    messages: list[list[str | None]] = []
    for prompt, answer in turns:
        messages += [["USER", prompt], ["ASSISTANT", answer]]
    return {"template_name": "one_shot", "system_message": "", "roles": ["USER", "ASSISTANT"],
            "messages": messages, "offset": 0, "conv_id": conv_id, "model_name": model}  # fmt: skip


def _vote(
    kind: str,
    conv: str,
    shown: list[str],
    models: tuple[str, str],
    answers: tuple[str, str],
    t: float,
    ip: str = "203.0.113.7",
    prompt: str = "Write a haiku",
) -> dict[str, object]:
    return {"tstamp": t, "type": kind, "models": shown, "ip": ip,
            "states": [_state(conv, models[0], [(prompt, answers[0])]),
                       _state(conv + "-b", models[1], [(prompt, answers[1])])]}  # fmt: skip


def _write(directory: Path) -> Path:
    directory.mkdir()
    day1 = [
        {"tstamp": T0, "type": "chat", "model": "m-one", "gen_params": {}, "start": T0, "finish": T0 + 1,
         "state": _state("c1", "m-one", [("Write a haiku", "Leaves fall")]), "ip": "203.0.113.7"},
        _vote("leftvote", "c1", ["", ""], ("m-one", "m-two"), ("# Leaves\n- fall\n**soft**", "Snow"), T0 + 5),
        _vote("rightvote", "c2", ["m-one", "m-two"], ("m-one", "m-two"), ("A", "B"), T0 + 6),
        _vote("tievote", "c3", ["m-one", "m-three"], ("m-one", "m-two"), ("A", "B"), T0 + 7),
        _vote("bothbad_vote", "c4", ["", ""], ("m-two", "m-three"), ("I am Claude, made by X", "B"), T0 + 8),
        _vote("leftvote", "c5", ["", ""], ("m-one", "m-three"),
              ("NETWORK ERROR DUE TO HIGH TRAFFIC. PLEASE REGENERATE OR REFRESH THIS PAGE.", "B"), T0 + 9),
        {"tstamp": T0 + 10, "type": "share", "models": ["", ""], "states": [], "ip": "x"},
    ]  # fmt: skip
    lines = [json.dumps(r) for r in day1]
    (directory / "2024-04-25-conv.json").write_text("\n".join(lines) + "\n")
    empty = _vote("leftvote", "c7", ["", ""], ("m-one", "m-two"), ("A", "B"), T0 + 90_000)
    empty["states"][0]["offset"] = 2  # type: ignore[index]
    day2 = [
        json.dumps(
            _vote("rightvote", "c6", ["", ""], ("m-three", "m-one"), ("A", "B"), T0 + 86_400, ip="x2")
        ),
        "{truncated",
        json.dumps(empty),
        json.dumps(_vote("rightvote", "c1", ["", ""], ("m-one", "m-two"), ("A", "B"), T0 + 86_500)),
    ]
    (directory / "2024-04-26-conv.json").write_text("\n".join(day2) + "\n")
    (directory / "notes.txt").write_text("not a log")
    return directory


def test_logs_become_battles_with_fastchat_cleaning(factory: sessionmaker[Session], tmp_path: Path) -> None:
    logs = _write(tmp_path / "logs")
    report = import_logs(factory, logs, salt=SALT, extra_words=["m-two"], batch_size=3)
    assert (report.imported, report.already_present, report.bad_count, report.other_records) == (6, 1, 2, 2)
    assert {b.where for b in report.bad} == {"2024-04-26-conv.json line 2", "2024-04-26-conv.json line 3"}
    assert "no message after the offset" in next(b.reason for b in report.bad if b.where.endswith("3"))
    with factory() as s:
        rows = s.execute(
            select(Battle.import_key, Battle.mode, Battle.model_a, Battle.model_b, Vote.outcome,
                   Vote.excluded_reason, Vote.client_hash)
            .join(Vote, Vote.battle_id == Battle.id).order_by(Battle.created_at)
        ).all()  # fmt: skip
        got = {r.import_key: (r.mode, r.model_a, r.model_b, r.outcome, r.excluded_reason) for r in rows}
        assert got == {
            "fastchat:c1": ("anony", "m-one", "m-two", "model_a", None),
            "fastchat:c2": ("named", "m-one", "m-two", "model_b", None),
            "fastchat:c3": ("named", "m-one", "m-three", "tie", "invalid_names"),
            "fastchat:c4": ("anony", "m-two", "m-three", "tie (bothbad)", "identity_leak"),
            "fastchat:c5": ("anony", "m-one", "m-three", "model_a", "error_marker"),
            "fastchat:c6": ("anony", "m-three", "m-one", "model_b", None),
        }
        expected = hmac.new(SALT.encode(), b"203.0.113.7", hashlib.sha256).hexdigest()
        assert rows[0].client_hash == expected
        c1 = s.scalars(select(Battle).where(Battle.import_key == "fastchat:c1")).one()
        texts = list(
            s.scalars(select(Message.content).where(Message.conversation_id == c1.conversation_a_id)
                      .order_by(Message.position))
        )  # fmt: skip
        assert texts == ["Write a haiku", "# Leaves\n- fall\n**soft**"]
        conv = s.get(Conversation, c1.conversation_a_id)
        assert conv is not None and (conv.header_count, conv.list_count, conv.bold_count) == (1, 1, 1)
        assert c1.turn_count == 1
        assert s.scalar(select(func.count()).select_from(BattleTag)) is not None
        dump = " ".join(str(v) for r in s.execute(select(Battle.__table__)).all() for v in r)
        dump += " ".join(str(v) for r in s.execute(select(Conversation.__table__)).all() for v in r)
        assert "203.0.113.7" not in dump
    again = import_logs(factory, logs, salt=SALT)
    assert (again.imported, again.already_present) == (0, 7)


def test_logs_refusals_and_cli(sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = make_engine(sqlite_url)
    try:
        with pytest.raises(InputRejected, match="no FastChat conversation logs"):
            import_logs(make_session_factory(engine), tmp_path, salt=SALT)
        with pytest.raises(InputRejected, match="no such directory"):
            import_logs(make_session_factory(engine), tmp_path / "nope", salt=SALT)
    finally:
        engine.dispose()
    logs = _write(tmp_path / "logs")
    argv = ["import", "logs", str(logs), "--database-url", sqlite_url, "--client-id-salt", "s"]
    assert main(argv) == 1  # two bad records
    out = capsys.readouterr()
    assert "6 battles imported, 1 already present, 2 bad, 2 other records" in out.out
    assert "2024-04-26-conv.json line 2: not JSON" in out.err
