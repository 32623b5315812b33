"""Output files of the CLI (vote exports, rating tables): checked before the work, written atomically."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


class OutputPathError(Exception):
    """The output file cannot be written (the message says why)."""


def check_output_path(out: Path) -> None:
    """Fail early, with the fix, when ``out`` cannot be written."""
    parent = out.parent  # Path("votes.csv").parent is Path(".")
    if out.is_dir():
        raise OutputPathError(f"cannot write {out}: it is a directory")
    if not parent.is_dir():
        raise OutputPathError(f"cannot write {out}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"cannot write {out}: no permission to create files in {parent}")
    if out.exists() and not os.access(out, os.W_OK):
        raise OutputPathError(f"cannot write {out}: the existing file is read-only")


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; the CLI is single-threaded here
    os.umask(mask)
    return mask


@contextmanager
def atomic_text_file(out: Path) -> Iterator[IO[str]]:
    """A UTF-8 text file that appears at ``out`` only when complete: written to a temporary file in the
    same directory, fsynced, given the usual permissions (0666 less the umask) and renamed over ``out``.
    On any error the temporary file is removed and an existing ``out`` is left untouched. Callers run
    :func:`check_output_path` first, before the work that produces the content."""
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    except OSError as exc:
        raise OutputPathError(f"cannot write {out}: {exc.strerror or exc}") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
