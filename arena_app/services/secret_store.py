"""Secrets the app generates for itself (the client-hash salt, signing keys), kept out of the database.

A named secret comes from its environment variable ``ARENA_<NAME>`` when that is set and not empty, else
from the file ``<directory>/<name>`` (directory ``--secrets-dir``, default ``<cache-dir>/secrets``),
generated on first use. The file is created race-safe (written to a private temporary file, then hard
linked into place: the first process wins and every other reads the winner's value, never a half-written
file), with mode 0600 in a 0700 directory; a file that others may read, that another user owns or that is
empty is refused with what to do. A database dump alone therefore holds no secret.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from arena_app.services.errors import Refused

ENV_PREFIX = "ARENA_"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class Secret:
    """A secret's value and where it came from (``source`` may be shown to an operator; ``value`` never)."""

    name: str
    value: str = field(repr=False)
    source: str
    created: bool = False  # generated (or written) by this call


def env_var(name: str) -> str:
    """The environment variable of a named secret: ``client_id_salt`` -> ``ARENA_CLIENT_ID_SALT``."""
    return ENV_PREFIX + _checked_name(name).upper()


def secret_path(directory: Path, name: str) -> Path:
    return Path(directory) / _checked_name(name)


def load_or_create_secret(
    name: str,
    directory: Path,
    *,
    environ: Mapping[str, str] | None = None,
    generate: Callable[[], str] = lambda: secrets.token_hex(32),
) -> Secret:
    """The named secret from ``ARENA_<NAME>``, else from its file, creating the file once if absent.

    Raises :class:`Refused` (saying which file and what to do) for an unsafe or unreadable file."""
    variable = env_var(name)
    value = (os.environ if environ is None else environ).get(variable, "")
    if value:
        return Secret(name, value, f"environment variable {variable}")
    return store_secret_if_absent(name, directory, generate())


def store_secret_if_absent(name: str, directory: Path, value: str) -> Secret:
    """Write ``value`` as the named secret's file unless the file exists; return what the file holds
    (``created`` tells whether it was this value). Safe against concurrent writers."""
    if not value or value != value.strip() or "\n" in value:
        raise Refused(f"a secret for {name} must be one non-empty line without surrounding spaces")
    path = secret_path(directory, name)
    _private_directory(path.parent)
    created = False
    if not path.exists():
        created = _link_new_file(path, value)
    return Secret(name, _read_private_file(path), f"file {path}", created)


def _checked_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"secret name {name!r}: use lower-case letters, digits and '_'")
    return name


def _private_directory(directory: Path) -> None:
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise Refused(f"cannot create the secrets directory {directory}: {exc.strerror}") from exc
    info = directory.stat()
    if info.st_uid != os.getuid():
        raise Refused(f"the secrets directory {directory} belongs to another user (uid {info.st_uid})")
    if info.st_mode & 0o022:
        raise Refused(f"the secrets directory {directory} is writable by others; run: chmod 700 {directory}")


def _link_new_file(path: Path, value: str) -> bool:
    """Write a private temporary file and hard link it to ``path``; False if another writer won."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
            os.write(fd, (value + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        _sync_directory(path.parent)
        return True
    except OSError as exc:
        raise Refused(f"cannot write the secret file {path}: {exc.strerror}") from exc
    finally:
        temporary.unlink(missing_ok=True)


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_private_file(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise Refused(f"cannot read the secret file {path}: {exc.strerror}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused(f"the secret file {path} is not a regular file")
        if info.st_uid != os.getuid():
            raise Refused(f"the secret file {path} belongs to another user (uid {info.st_uid})")
        if info.st_mode & 0o077:
            mode = oct(stat.S_IMODE(info.st_mode))
            raise Refused(f"the secret file {path} may be read by others (mode {mode}); chmod 600 {path}")
        value = os.read(fd, 4096).decode("utf-8", errors="strict").strip()
    except UnicodeDecodeError as exc:
        raise Refused(f"the secret file {path} is not UTF-8 text") from exc
    finally:
        os.close(fd)
    if not value:
        raise Refused(
            f"the secret file {path} is empty: write the secret into it, or delete it to generate a new one"
        )
    return value
