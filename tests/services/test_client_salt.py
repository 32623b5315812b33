"""The client-hash salt lives outside the database; older databases' salt moves out at start (both DBs)."""

from __future__ import annotations

import hashlib
import hmac
import stat
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from arena_app.providers.registry import ModelRegistry
from arena_app.services.app_services import AppServices, create_services
from arena_app.services.errors import Refused
from arena_app.settings import load_settings

ADDRESS = "198.51.100.7"


def _sql(url: str, statement: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement))
            return [tuple(r) for r in result.all()] if result.returns_rows else []
    finally:
        engine.dispose()


def _start(url: str, secrets: Path, salt: str = "") -> AppServices:
    settings = load_settings(database_url=url, secrets_dir=secrets, client_id_salt=salt or None)
    return create_services(settings, ModelRegistry.empty())


def _hash(salt: str) -> str:
    return hmac.new(salt.encode(), ADDRESS.encode(), hashlib.sha256).hexdigest()


@pytest.fixture(autouse=True)
def _no_salt_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARENA_CLIENT_ID_SALT", raising=False)


def test_a_new_database_never_holds_the_salt(db_url: str, tmp_path: Path) -> None:
    services = _start(db_url, tmp_path / "secrets")
    try:
        salt_file = tmp_path / "secrets" / "client_id_salt"
        assert stat.S_IMODE(salt_file.stat().st_mode) == 0o600
        salt = salt_file.read_text().strip()
        assert services.identify(ADDRESS, {}, "k").client_hash == _hash(salt)
        assert _sql(db_url, "SELECT key FROM app_meta") == []
        assert services.salt_notes[0] == f"client-hash salt: file {salt_file}"
        assert all(salt not in note for note in services.salt_notes)
    finally:
        services.close()


def test_an_older_databases_salt_moves_to_the_file_and_hashes_stay(db_url: str, tmp_path: Path) -> None:
    _sql(db_url, "INSERT INTO app_meta (key, value) VALUES ('client_id_salt', 'old-db-salt')")
    services = _start(db_url, tmp_path / "secrets")
    try:
        assert services.identify(ADDRESS, {}, "k").client_hash == _hash("old-db-salt")  # same judges
        assert _sql(db_url, "SELECT key FROM app_meta") == []
        assert (tmp_path / "secrets" / "client_id_salt").read_text() == "old-db-salt\n"
        assert "moved the client-hash salt out of the database" in services.salt_notes[1]
    finally:
        services.close()
    again = _start(db_url, tmp_path / "secrets")  # the next start reads the file
    try:
        assert again.identify(ADDRESS, {}, "k").client_hash == _hash("old-db-salt")
        assert again.salt_notes == (f"client-hash salt: file {tmp_path / 'secrets' / 'client_id_salt'}",)
    finally:
        again.close()


def test_a_file_with_another_salt_refuses_and_changes_nothing(db_url: str, tmp_path: Path) -> None:
    first = _start(db_url, tmp_path / "secrets")  # some other database's start created the file
    first.close()
    _sql(db_url, "INSERT INTO app_meta (key, value) VALUES ('client_id_salt', 'old-db-salt')")
    before = (tmp_path / "secrets" / "client_id_salt").read_text()
    with pytest.raises(Refused, match="differs from the one in .*client_id_salt; nothing was changed"):
        _start(db_url, tmp_path / "secrets")
    assert _sql(db_url, "SELECT value FROM app_meta") == [("old-db-salt",)]
    assert (tmp_path / "secrets" / "client_id_salt").read_text() == before


def test_a_configured_salt_wins_and_the_unused_stored_one_is_deleted(db_url: str, tmp_path: Path) -> None:
    _sql(db_url, "INSERT INTO app_meta (key, value) VALUES ('client_id_salt', 'old-db-salt')")
    services = _start(db_url, tmp_path / "secrets", salt="configured")
    try:
        assert services.identify(ADDRESS, {}, "k").client_hash == _hash("configured")
        assert _sql(db_url, "SELECT key FROM app_meta") == []
        assert not (tmp_path / "secrets" / "client_id_salt").exists()  # other secrets may live there
        assert services.salt_notes[0].startswith("client-hash salt: setting client_id_salt (ARENA_")
    finally:
        services.close()


def test_serve_tells_the_operator_where_the_salt_is_never_its_value(sqlite_url: str, tmp_path: Path) -> None:
    from arena_app.services.runtime import serving

    said: list[str] = []
    settings = load_settings(database_url=sqlite_url, secrets_dir=tmp_path / "secrets")
    with serving(settings, say=said.append, progress=said.append):
        pass
    salt_file = tmp_path / "secrets" / "client_id_salt"
    assert f"client-hash salt: file {salt_file}" in said
    assert f"generated a new client-hash salt into {salt_file}" in said
    assert not any(salt_file.read_text().strip() in line for line in said)
