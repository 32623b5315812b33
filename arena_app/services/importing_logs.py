"""``arena import logs DIR``: FastChat's raw ``*-conv.json`` logs into battles, votes and conversations.

Every vote record becomes a battle with its two conversations (the messages of both states), its vote and
its category tags; FastChat's cleaning rules (:mod:`arena_app.files.fastchat_logs`) become the vote's
``excluded_reason``, so nothing is dropped and only clean anonymous votes count on the leaderboard. Style
totals are counted from the answers as for our own battles. The voter's ``ip`` is hashed exactly as ``arena
serve`` hashes client addresses (HMAC-SHA256 with the client-hash salt): the address is never stored.
The battle's ``conv_id`` is the import key (the same as ``question_id`` in FastChat's clean_battle files, so
importing both adds each battle once). Files are read in name order (their dates), line by line.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
from sqlalchemy.orm import Session, sessionmaker

from arena_app.files.fastchat_logs import LoggedBattle, exclusion, parse_vote
from arena_app.files.fastchat_rows import RowProblem
from arena_app.services.answers import style_of
from arena_app.services.errors import InputRejected
from arena_app.services.importing import BATCH_SIZE, BadRow, ImportReport, Progress, store_in_batches
from arena_app.storage.imports import ImportBattle
from leaderboard.categories import battle_categories

LOG_GLOB = "*-conv.json"


def log_files(directory: Path) -> list[Path]:
    directory = Path(directory)
    if not directory.is_dir():
        raise InputRejected(f"no such directory: {directory}")
    files = sorted(p for p in directory.glob(LOG_GLOB) if p.is_file())
    if not files:
        raise InputRejected(f"{directory}: no FastChat conversation logs ({LOG_GLOB}) in it")
    return files


def _side(messages: Iterable[tuple[str, str]]) -> tuple[tuple[int, int, int, int], bool]:
    tokens = headers = lists = bold = 0
    has_code = False
    for role, text in messages:
        if role != "assistant":
            continue
        style = style_of(text, None)
        tokens, headers = tokens + style.tokens, headers + style.headers
        lists, bold = lists + style.lists, bold + style.bold
        has_code = has_code or style.has_code
    return (tokens, headers, lists, bold), has_code


def to_import(b: LoggedBattle, salt: str, extra_words: Iterable[str]) -> ImportBattle:
    style_a, code_a = _side(b.messages_a)
    style_b, code_b = _side(b.messages_b)
    turn = sum(role == "user" for role, _ in b.messages_a)
    prompts = [t for role, t in b.messages_a if role == "user"]
    answers = [t for role, t in (*b.messages_a, *b.messages_b) if role == "assistant"]
    address = b.ip if b.ip is not None else f"fastchat-battle:{b.conv_id}"
    return ImportBattle(
        key=f"fastchat:{b.conv_id}",
        mode=b.mode,
        model_a=b.model_a,
        model_b=b.model_b,
        outcome=b.winner,
        client_hash=hmac.new(salt.encode(), address.encode(), hashlib.sha256).hexdigest(),
        turn_count=turn,
        created_at=datetime.fromtimestamp(b.tstamp, UTC),
        tags=tuple(battle_categories(turn_count=turn, prompts=prompts, answers=answers,
                                     has_code=code_a or code_b)),
        style_a=style_a,
        style_b=style_b,
        messages_a=b.messages_a,
        messages_b=b.messages_b,
        excluded_reason=exclusion(b, extra_words),
        has_code_a=code_a,
        has_code_b=code_b,
    )  # fmt: skip


def _battles(files: list[Path], report: ImportReport) -> Iterator[LoggedBattle]:
    for path in files:
        with path.open("rb") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                report.rows_read += 1
                try:
                    try:
                        record = orjson.loads(line)
                    except orjson.JSONDecodeError as exc:
                        raise RowProblem(f"not JSON ({exc})"[:200]) from None
                    battle = parse_vote(record)
                except RowProblem as exc:
                    report.add_bad(BadRow(f"{path.name} line {number}", str(exc)))
                    continue
                if battle is None:
                    report.other_records += 1
                else:
                    yield battle


def import_logs(
    factory: sessionmaker[Session],
    directory: Path,
    *,
    salt: str,
    extra_words: Iterable[str] = (),
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> ImportReport:
    """Import every ``*-conv.json`` of ``directory``; see the module docstring."""
    t0 = time.perf_counter()
    files = log_files(directory)
    words = tuple(extra_words)
    report = ImportReport()
    rows = (to_import(battle, salt, words) for battle in _battles(files, report))
    store_in_batches(factory, rows, report, batch_size, progress)
    if progress:
        progress(report.rows_read, report.imported)
    report.seconds = time.perf_counter() - t0
    return report
