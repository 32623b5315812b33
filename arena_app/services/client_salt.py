"""The client-hash salt: from the setting, else the secret file, and moved out of older databases.

Older versions generated the salt into the database (``app_meta``), so a dump alone reversed the client
hashes. At start (:func:`resolve_client_salt`), a salt found there is written to the secret file (see
:mod:`arena_app.services.secret_store`) when neither the setting nor the file holds one, so every hash
stays the same, and its row is deleted. A configured salt (``ARENA_CLIENT_ID_SALT`` / ``--client-id-salt``)
wins and the stored one is deleted as unused. A secret file holding a *different* salt than the database
is refused, changing nothing: choosing would silently change every judge's hash. Alembic migrations do
not do this move because a migration cannot safely write a private file on the app's host.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from arena_app.services.errors import Refused
from arena_app.services.secret_store import Secret, load_or_create_secret, secret_path, store_secret_if_absent
from arena_app.settings import ArenaSettings
from arena_app.storage import api
from arena_app.storage.db import session_scope

SALT_NAME = "client_id_salt"
CONFIGURED = "setting client_id_salt (ARENA_CLIENT_ID_SALT / --client-id-salt)"


@dataclass(frozen=True)
class ClientSalt:
    """The salt, where it lives (for the operator, never the value) and what start-up did about it."""

    secret: Secret
    notes: tuple[str, ...] = ()

    def where(self) -> str:
        return f"client-hash salt: {self.secret.source}"


def resolve_client_salt(settings: ArenaSettings, session_factory: sessionmaker[Session]) -> ClientSalt:
    """The salt to hash client addresses with; moves one stored in the database out of it (see module).
    Storage errors propagate as they are (start-up configuration errors, with the detail they need)."""
    with session_scope(session_factory) as s:
        legacy = api.get_meta(s, api.SALT_KEY)
    configured = settings.client_id_salt.get_secret_value()
    directory = settings.secrets_directory
    path = secret_path(directory, SALT_NAME)
    notes: list[str] = []
    if configured:
        secret = Secret(SALT_NAME, configured, CONFIGURED)
        if legacy is not None:
            notes.append("deleted an unused client-hash salt from the database (a salt is configured)")
    elif legacy is not None:
        secret = store_secret_if_absent(SALT_NAME, directory, legacy)
        if secret.value != legacy:
            raise Refused(
                f"the database holds a client-hash salt (app_meta) that differs from the one in "
                f"{path}; nothing was changed. To keep this database's hashes, "
                f"move that file away (the database's salt is then moved into it on the next start) or use "
                f"another --secrets-dir; to use the file's salt, delete the row: "
                f"DELETE FROM app_meta WHERE key = '{api.SALT_KEY}'"
            )
        notes.append(f"moved the client-hash salt out of the database into {path}")
    else:
        secret = load_or_create_secret(SALT_NAME, directory)
        if secret.created:
            notes.append(f"generated a new client-hash salt into {path}")
    if legacy is not None:
        with session_scope(session_factory) as s:
            api.delete_meta(s, api.SALT_KEY, legacy)
    return ClientSalt(secret, tuple(notes))
