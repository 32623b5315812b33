"""The ``arena`` command line: db and export subcommands, and one-line errors with a non-zero exit."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from arena_app.cli.main import main
from arena_app.storage import api, migrate
from arena_app.storage.db import make_engine, make_session_factory, session_scope


def _arena(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("arena: error: ")
    return lines[0]


def test_db_upgrade_current_downgrade(empty_db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = empty_db_url
    head = migrate.head_revision()
    code, out, _ = _arena(capsys, "--database-url", url, "db", "current")
    assert code == 0 and out.startswith("none")
    code, out, _ = _arena(capsys, "db", "upgrade", "--database-url", url)  # flag after the command works
    assert code == 0 and f"{head} (head)" in out
    assert migrate.current(url) == head
    code, out, _ = _arena(capsys, "--database-url", url, "db", "current")
    assert code == 0 and out.strip() == f"{head} (head)"
    code, out, _ = _arena(capsys, "--database-url", url, "db", "downgrade", "base")
    assert code == 0 and "base" in out
    assert migrate.current(url) is None


def test_db_current_does_not_create_a_missing_sqlite_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "typo.db"
    code, out, _ = _arena(capsys, "--database-url", f"sqlite:///{path}", "db", "current")
    assert code == 0 and out.startswith("none") and "no database file" in out and str(path) in out
    code, _, err = _arena(capsys, "--database-url", f"sqlite:///{path}", "db", "downgrade", "base")
    assert code != 0 and "does not exist" in _one_error_line(err)
    assert not path.exists()  # neither a read nor a refused downgrade left an empty file behind


def test_database_url_from_environment(
    empty_sqlite_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARENA_DATABASE_URL", empty_sqlite_url)
    code, _, _ = _arena(capsys, "db", "upgrade")
    assert code == 0 and migrate.current(empty_sqlite_url) == migrate.head_revision()


def test_export_votes_end_to_end(db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = make_engine(db_url)
    with session_scope(make_session_factory(engine)) as s:
        for outcome, mode in [("model_a", "anony"), ("tie", "named")]:
            b = api.create_battle(s, mode=mode, model_a="x", model_b="y", session_id="s", client_hash="h")
            api.record_vote(s, battle_id=b.id, outcome=outcome, turn_count=1, session_id="s", client_hash="h")
    engine.dispose()
    out = tmp_path / "votes.csv"
    code, _, err = _arena(
        capsys,
        "--database-url",
        db_url,
        "export",
        "votes",
        "--out",
        str(out),
        "--mode",
        "anony",
        "--since",
        "2000-01-01",
    )
    assert code == 0, err
    assert "exported 1 votes" in err
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["mode"], r["winner"]) for r in rows] == [("anony", "model_a")]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--database-url", "not a url", "db", "current"], "invalid database URL"),
        (["--database-url", "postgresql+psycopg://u@h:abc/db", "db", "current"], "invalid database URL"),
        (["--database-url", "mysql+nodriver://u@h/db", "db", "upgrade"], "cannot use database URL"),
        (
            ["--database-url", "postgresql+psycopg://postgres@127.0.0.1:1/x", "db", "current"],
            "Connection refused",
        ),
        (
            [
                "--database-url",
                "postgresql+psycopg://postgres@127.0.0.1:1/x",
                "export",
                "votes",
                "--out",
                "{tmp}/v.csv",
            ],
            "Connection refused",
        ),
        (
            ["--database-url", "sqlite:///{tmp}/no/such/dir/a.db", "db", "upgrade"],
            "unable to open database file",
        ),
        (
            ["--database-url", "sqlite:///{tmp}/missing.db", "export", "votes", "--out", "{tmp}/v.csv"],
            "does not exist",
        ),
        (["export", "votes", "--out", "{tmp}/no-such-dir/v.csv"], "directory"),
        (["export", "votes", "--out", "{tmp}"], "is a directory"),
        (["export", "votes", "--out", "{tmp}/v.csv", "--since", "yesterday"], "invalid --since date"),
        (["export", "votes", "--out", "{tmp}/v.csv", "--until", "2026-13-01"], "invalid --until date"),
        (
            ["export", "votes", "--out", "{tmp}/v.csv", "--since", "2026-02-01", "--until", "2026-01-01"],
            "earlier than",
        ),
        (["db", "downgrade", "no-such-rev"], "no-such-rev"),
        (["--max-turns", "0", "serve"], "max_turns"),  # refused before anything starts
    ],
)
def test_errors_are_one_line(
    argv: list[str],
    expected: str,
    sqlite_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ARENA_DATABASE_URL", sqlite_url)
    code, out, err = _arena(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert code == 1
    line = _one_error_line(err)
    assert expected in line
    assert not (tmp_path / "v.csv").exists()


def test_export_from_a_database_without_schema(
    empty_sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path(empty_sqlite_url.removeprefix("sqlite:///")).touch()
    code, _, err = _arena(
        capsys, "--database-url", empty_sqlite_url, "export", "votes", "--out", str(tmp_path / "v.csv")
    )
    assert code == 1 and "arena db upgrade" in _one_error_line(err)


def test_secret_password_not_echoed(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _arena(
        capsys, "--database-url", "postgresql+psycopg://u:hunter2@127.0.0.1:1/x", "db", "current"
    )
    assert code == 1 and "hunter2" not in err and "***" in err
    for malformed in ("postgresql+psycopg//u:hunter2@h/db", "postgresql+psycopg://u:hunter2@h:port/db"):
        for argv in (["db", "current"], ["export", "votes", "--out", "/tmp/never-written.csv"]):
            code, _, err = _arena(capsys, "--database-url", malformed, *argv)
            assert code == 1 and "invalid database URL" in err and "hunter2" not in err, err


def test_unknown_subcommand_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _arena(capsys, "frobnicate")
    assert code == 2 and "invalid choice: 'frobnicate'" in err and "Traceback" not in err


def test_help_lists_settings_with_readable_placeholders(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _arena(capsys, "--help")
    assert code == 0
    for text in (
        "--database-url URL",
        "ARENA_DATABASE_URL",
        "--port PORT",
        "--endpoints-file PATH",
        "db",
        "export",
    ):
        assert text in out
    assert "SETTING_" not in out


def test_console_script_exit_code(tmp_path: Path) -> None:
    """The installed ``arena`` script: an error is one stderr line and exit status 1, no traceback."""
    arena = Path(sys.executable).with_name("arena")
    env = {**os.environ, "ARENA_DATABASE_URL": f"sqlite:///{tmp_path}/missing.db"}
    done = subprocess.run(
        [str(arena), "export", "votes", "--out", str(tmp_path / "v.csv")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"arena: error: database file {tmp_path}/missing.db does not exist (check --database-url)"
    ]


def test_progress_is_shown_on_a_terminal_only(sqlite_url: str, tmp_path: Path) -> None:
    """With stderr on a pseudo-terminal the export draws progress; redirected to a file it stays quiet."""
    import pty

    engine = make_engine(sqlite_url)
    with session_scope(make_session_factory(engine)) as s:
        b = api.create_battle(s, mode="anony", model_a="x", model_b="y", session_id="s", client_hash="h")
        api.record_vote(s, battle_id=b.id, outcome="model_a", turn_count=1, session_id="s", client_hash="h")
    engine.dispose()
    arena = Path(sys.executable).with_name("arena")
    argv = [str(arena), "--database-url", sqlite_url, "export", "votes", "--out", str(tmp_path / "v.csv")]

    primary, secondary = pty.openpty()
    try:
        done = subprocess.run(argv, stderr=secondary, stdout=subprocess.DEVNULL, timeout=120)
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # EIO: the terminal's other side is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(primary)
    tty_err = b"".join(chunks).decode()
    assert done.returncode == 0
    assert "exporting votes: 1/1 (100%)" in tty_err

    piped = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0
    assert "exporting votes" not in piped.stderr and "exported 1 votes" in piped.stderr


def test_list_settings_are_comma_separated_in_the_environment_and_on_the_command_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from arena_app.cli.main import build_parser
    from arena_app.cli.settings_flags import settings_overrides
    from arena_app.settings import load_settings

    monkeypatch.setenv("ARENA_TRUSTED_PROXIES", "10.0.0.1, 10.0.0.0/8")
    monkeypatch.setenv("ARENA_IDENTITY_WORDS", "zephyr")
    settings = load_settings()
    assert settings.trusted_proxies == ["10.0.0.1", "10.0.0.0/8"] and settings.identity_words == ["zephyr"]
    args = build_parser().parse_args(["--identity-words", "a,b ,", "serve"])
    assert load_settings(**settings_overrides(args)).identity_words == ["a", "b"]
