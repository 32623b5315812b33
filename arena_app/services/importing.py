"""``arena import battles``: a FastChat battles file (clean_battle JSON or JSON Lines) into the database.

Rows are streamed (:mod:`arena_app.files.fastchat_stream`), checked one by one
(:mod:`arena_app.files.fastchat_rows`) and stored in batches of ``batch_size``, one transaction each
(:mod:`arena_app.storage.imports`), so memory stays bounded and an interrupted import keeps what it
committed: running it again adds the rest, since every battle's import key (its ``question_id``) is looked
up first. A bad row is reported with its position and reason and the others are imported; with
``strict`` the whole file is checked first and nothing is imported when any row is bad.

What is kept: the models, winner, mode (``anony``), time, turns, language, category tags (FastChat's
``is_code`` / ``category_tag``), the style totals of each side (``conv_metadata``, which style control
uses) and, in the conversation release, the conversations. FastChat's ``judge`` (a voter id, often derived
from the IP address) is stored only as an HMAC with the arena's client-id salt, like our own voters.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from arena_app.files.fastchat_rows import FastChatBattle, RowProblem, StyleCounts, parse_battle
from arena_app.files.fastchat_stream import BattleFileError, stream_rows
from arena_app.services.client_salt import resolve_client_salt
from arena_app.services.errors import InputRejected, storage_errors
from arena_app.settings import ArenaSettings
from arena_app.storage.db import session_scope
from arena_app.storage.imports import ImportBattle, insert_battles

BATCH_SIZE = 2000
MAX_LISTED = 20  # bad rows listed in a report (all are counted)

#: progress(rows read, rows imported)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BadRow:
    where: str  # "index 12" (a JSON array element) or "line 13" (a JSON Lines line)
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class ImportReport:
    rows_read: int = 0
    imported: int = 0
    already_present: int = 0
    bad_count: int = 0
    other_records: int = 0  # log records that are not votes (chat, share, ...): counted, not imported
    bad: list[BadRow] = field(default_factory=list)  # the first MAX_LISTED
    seconds: float = 0.0

    def add_bad(self, row: BadRow) -> None:
        self.bad_count += 1
        if len(self.bad) < MAX_LISTED:
            self.bad.append(row)


def import_salt(factory: sessionmaker[Session], settings: ArenaSettings) -> str:
    """The client-hash salt judges are hashed with: the same one ``arena serve`` hashes voters with."""
    with storage_errors():
        return resolve_client_salt(settings, factory).secret.value


def judge_hash(salt: str, judge: str | None, key: str) -> str:
    """HMAC-SHA256 of FastChat's judge; a row without a judge is its own voter (keyed by its import key)."""
    message = f"fastchat-judge:{judge}" if judge is not None else f"fastchat-battle:{key}"
    return hmac.new(salt.encode(), message.encode(), hashlib.sha256).hexdigest()


def to_import(b: FastChatBattle, salt: str) -> ImportBattle:
    def style(side: StyleCounts | None) -> tuple[int, int, int, int] | None:
        return None if side is None else (side.tokens, side.headers, side.lists, side.bold)

    return ImportBattle(
        key=b.key,
        mode=b.mode,
        model_a=b.model_a,
        model_b=b.model_b,
        outcome=b.winner,
        client_hash=judge_hash(salt, b.judge, b.key),
        turn_count=b.turn,
        created_at=datetime.fromtimestamp(b.tstamp, UTC),
        language=b.language,
        tags=b.tags,
        style_a=style(b.style_a),
        style_b=style(b.style_b),
        messages_a=b.conversation_a or (),
        messages_b=b.conversation_b or (),
    )


def _checked_rows(path: Path, fmt: str | None, report: ImportReport) -> Iterator[FastChatBattle]:
    """The good rows; bad ones go to the report."""
    for where, value in stream_rows(path, fmt):
        report.rows_read += 1
        try:
            if isinstance(value, RowProblem):
                raise value
            yield parse_battle(value)
        except RowProblem as exc:
            report.add_bad(BadRow(where, str(exc)))


def _refuse_bad(path: Path, report: ImportReport) -> None:
    listed = "\n".join(f"  {b}" for b in report.bad)
    more = report.bad_count - len(report.bad)
    tail = f"\n  (and {more} more)" if more else ""
    raise InputRejected(
        f"{path.name}: {report.bad_count} of {report.rows_read} rows are bad; --strict imports nothing:\n"
        f"{listed}{tail}"
    )


def import_battles(
    factory: sessionmaker[Session],
    path: Path,
    *,
    salt: str,
    fmt: str | None = None,
    strict: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a FastChat battles file; see the module docstring. Raises :class:`InputRejected` when the
    file cannot be read at all, or (``strict``) when any row is bad."""
    t0 = time.perf_counter()
    path = Path(path)
    report = ImportReport()
    try:
        if strict:
            check = ImportReport()
            for _ in _checked_rows(path, fmt, check):
                pass
            if check.bad_count:
                _refuse_bad(path, check)
        rows = (to_import(b, salt) for b in _checked_rows(path, fmt, report))
        store_in_batches(factory, rows, report, batch_size, progress)
    except BattleFileError as exc:
        done = ""
        if report.imported:
            done = (
                f"; the {report.imported} battles before it were imported (they are not added again "
                "when the fixed file is imported)"
            )
        raise InputRejected(f"{exc}{done}") from exc
    if progress:
        progress(report.rows_read, report.imported)
    report.seconds = time.perf_counter() - t0
    return report


def store_in_batches(
    factory: sessionmaker[Session],
    battles: Iterable[ImportBattle],
    report: ImportReport,
    batch_size: int,
    progress: Progress | None,
) -> None:
    """Store ``battles`` ``batch_size`` at a time, one transaction each (an interrupted import keeps the
    batches before it; re-running adds only the rest), reporting progress after each full batch."""
    batch: list[ImportBattle] = []
    for battle in battles:
        batch.append(battle)
        if len(batch) >= batch_size:
            store_batch(factory, batch, report)
            batch = []
            if progress:
                progress(report.rows_read, report.imported)
    if batch:
        store_batch(factory, batch, report)


def store_batch(factory: sessionmaker[Session], batch: list[ImportBattle], report: ImportReport) -> None:
    with storage_errors(), session_scope(factory) as s:
        inserted = insert_battles(s, batch)
    report.imported += len(inserted)
    report.already_present += len(batch) - len(inserted)
