"""Each subcommand declares the settings it uses: its parser, and its --help, carry exactly those flags."""

from __future__ import annotations

import argparse
import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from arena_app.cli.main import build_parser, main
from arena_app.cli.settings_flags import SETTING_PREFIX, flag_of, settings_parent_parser
from arena_app.settings import ArenaSettings

WEB_SERVER_SETTINGS = (
    "host",
    "port",
    "trusted_proxies",
    "client_id_salt",
    "concurrency_limit",
    "recompute_every",
    "demo",
    "endpoints_file",
    "max_turns",
    "identity_words",
)


def _arena(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # --help and usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _commands(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every command parser under ``parser`` (groups such as ``arena db`` and their actions)."""
    for child in _subparsers(parser).values():
        yield child
        yield from _commands(child)


def _settings_of(parser: argparse.ArgumentParser) -> set[str]:
    """The settings whose flag the parser accepts (the ``--endpoints`` alias of serve included)."""
    return {a.dest.removeprefix(SETTING_PREFIX) for a in parser._actions if a.dest.startswith(SETTING_PREFIX)}


def test_leaderboard_fit_help_shows_no_web_server_setting(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _arena(capsys, "leaderboard", "fit", "--help")
    assert code == 0
    assert "--min-votes N" in out and "ARENA_MIN_VOTES" in out  # the one setting a file fit uses
    for name in (*WEB_SERVER_SETTINGS, "database_url", "cache_dir"):
        assert flag_of(name) not in out, name
    assert "ARENA_PORT" not in out and "--rounds" in out


def test_each_command_accepts_exactly_the_settings_it_declares() -> None:
    commands = list(_commands(build_parser()))
    assert {c.prog for c in commands} >= {
        "arena serve",
        "arena db upgrade",
        "arena export votes",
        "arena leaderboard recompute",
        "arena leaderboard fit",
        "arena leaderboard show",
        "arena models",
        "arena models check",
        "arena worker",
    }
    used: set[str] = set()
    for parser in commands:
        declared = set(parser.get_default("settings_fields"))
        assert _settings_of(parser) == declared, parser.prog
        assert parser.get_default("command_path") == parser.prog
        used |= declared
    # a setting no command declares would have no flag anywhere but `arena --help`
    assert used == set(ArenaSettings.model_fields)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["db", "upgrade", "--help"], {"database_url"}),
        (["export", "votes", "--help"], {"database_url"}),
        (
            ["leaderboard", "recompute", "--help"],
            {"database_url", "min_votes", "daily_vote_cap", "excluded_models"},
        ),
        (["leaderboard", "show", "--help"], {"database_url"}),
        (["models", "check", "--help"], {"endpoints_file"}),
        (["worker", "--help"], set()),
        (["serve", "--help"], set(ArenaSettings.model_fields)),
    ],
)
def test_help_lists_the_declared_settings_and_their_variables(
    argv: list[str], expected: set[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _arena(capsys, *argv)
    assert code == 0
    shown = {name for name in ArenaSettings.model_fields if f"ARENA_{name.upper()}" in out}
    assert shown == expected


def test_top_level_help_lists_the_commands_and_every_setting(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _arena(capsys, "--help")
    assert code == 0
    for command in ("serve", "db", "export", "leaderboard", "models", "worker"):
        assert command in out
    assert all(flag_of(name) in out for name in ArenaSettings.model_fields)


def test_a_setting_before_the_command_works_when_the_command_uses_it(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _arena(capsys, "--database-url", sqlite_url, "db", "current")
    assert code == 0 and "(head)" in out
    code, out, _ = _arena(capsys, "db", "--database-url", sqlite_url, "current")  # on the group too
    assert code == 0 and "(head)" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "8001", "db", "current"], "--port: not a setting of `arena db current`"),
        (["--database-url", "x", "leaderboard", "fit", "f.csv"], "(its settings: --min-votes)"),
        (
            ["--host", "0.0.0.0", "--demo", "true", "worker", "--model-path", "m", "--model-name", "m"],
            "--host, --demo",
        ),
        (["leaderboard", "fit", "f.csv", "--port", "8001"], "unrecognized arguments: --port 8001"),
    ],
)
def test_a_setting_the_command_does_not_use_is_refused(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _arena(capsys, *argv)
    assert code == 2 and out == "" and message in err and "Traceback" not in err


def test_environment_variables_still_work_for_every_command(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "battles.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["model_a", "model_b", "winner"])
        w.writerows(
            [["a", "b", "model_a"], ["b", "a", "model_b"], ["a", "c", "tie"], ["b", "c", "model_a"]] * 5
        )
    monkeypatch.setenv("ARENA_PORT", "8001")  # a web-server setting: read, and not in the way of `fit`
    monkeypatch.setenv("ARENA_MIN_VOTES", "12")  # a, b: 15 votes each; c: 10
    code, out, err = _arena(capsys, "leaderboard", "fit", str(path), "--ci", "sandwich")
    assert code == 0, err
    rows = [line.split()[1] for line in out.splitlines() if line.split() and line.split()[0].isdigit()]
    assert sorted(rows) == ["a", "b"]
    code, out, _ = _arena(capsys, "leaderboard", "fit", str(path), "--ci", "sandwich", "--min-votes", "0")
    rows = [line.split()[1] for line in out.splitlines() if line.split() and line.split()[0].isdigit()]
    assert code == 0 and sorted(rows) == ["a", "b", "c"]  # the flag beats the environment variable
    monkeypatch.setenv("ARENA_DATABASE_URL", sqlite_url)
    code, out, _ = _arena(capsys, "db", "current")
    assert code == 0 and "(head)" in out


def test_an_unknown_setting_name_is_a_programming_error() -> None:
    with pytest.raises(KeyError, match="not a setting: prot"):
        settings_parent_parser(["prot"])
