"""Secrets outside the database: environment variable first, else a private file created once, race-safe."""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from arena_app.services.errors import Refused
from arena_app.services.secret_store import env_var, load_or_create_secret, store_secret_if_absent


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generated_once_into_a_private_file_and_read_back(tmp_path: Path) -> None:
    directory = tmp_path / "deep" / "secrets"
    first = load_or_create_secret("signing_key", directory, environ={})
    assert first.created and first.source == f"file {directory / 'signing_key'}"
    assert len(first.value) == 64 and first.value not in repr(first)
    assert _mode(directory) == 0o700 and _mode(directory / "signing_key") == 0o600
    again = load_or_create_secret("signing_key", directory, environ={})
    assert again.value == first.value and not again.created
    assert [p.name for p in directory.iterdir()] == ["signing_key"]  # no temporary file left behind


def test_the_environment_variable_wins_and_writes_nothing(tmp_path: Path) -> None:
    assert env_var("client_id_salt") == "ARENA_CLIENT_ID_SALT"
    env = {"ARENA_CLIENT_ID_SALT": "from-env"}
    got = load_or_create_secret("client_id_salt", tmp_path / "s", environ=env)
    assert got.value == "from-env" and got.source == "environment variable ARENA_CLIENT_ID_SALT"
    assert not (tmp_path / "s").exists()
    empty = load_or_create_secret("client_id_salt", tmp_path / "s", environ={"ARENA_CLIENT_ID_SALT": ""})
    assert empty.source.startswith("file ")  # an empty variable counts as unset


def test_a_file_others_may_read_is_refused_and_left_alone(tmp_path: Path) -> None:
    load_or_create_secret("k", tmp_path, environ={})
    (tmp_path / "k").chmod(0o644)
    with pytest.raises(Refused, match=r"may be read by others \(mode 0o644\); chmod 600 .*k"):
        load_or_create_secret("k", tmp_path, environ={})
    assert _mode(tmp_path / "k") == 0o644


def test_an_empty_file_a_symlink_and_a_writable_directory_are_refused(tmp_path: Path) -> None:
    (tmp_path / "k").touch(mode=0o600)
    with pytest.raises(Refused, match="is empty: write the secret into it, or delete it"):
        load_or_create_secret("k", tmp_path, environ={})
    (tmp_path / "elsewhere").write_text("x\n")
    (tmp_path / "elsewhere").chmod(0o600)
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(Refused, match="cannot read the secret file"):
        load_or_create_secret("link", tmp_path, environ={})
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    with pytest.raises(Refused, match="writable by others; run: chmod 700"):
        load_or_create_secret("k", shared, environ={})
    assert list(shared.iterdir()) == []


def test_bad_names_and_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lower-case letters"):
        load_or_create_secret("../etc/passwd", tmp_path, environ={})
    with pytest.raises(Refused, match="one non-empty line"):
        store_secret_if_absent("k", tmp_path, "two\nlines")
    assert not (tmp_path / "k").exists()


def _race(directory: str, queue: multiprocessing.Queue[str]) -> None:
    queue.put(load_or_create_secret("raced", Path(directory), environ={}).value)


def test_concurrent_first_starts_agree_on_one_secret(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[str] = ctx.Queue()
    procs = [ctx.Process(target=_race, args=(str(tmp_path), queue)) for _ in range(8)]
    for p in procs:
        p.start()
    values = [queue.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert len(set(values)) == 1
    assert (tmp_path / "raced").read_text().strip() == values[0]
    assert os.listdir(tmp_path) == ["raced"]
