"""Export votes to CSV, JSON Lines or FastChat's clean_battle JSON: streaming, atomic, FastChat names.

The columns and their encoding are :mod:`arena_app.files.export_rows`. The file appears only when complete:
rows go to a temporary file in the target directory, which is fsynced and renamed over the target
(``os.replace``). On any failure the temporary file is removed and an existing target is left untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from arena_app.domain import BattleMode
from arena_app.files.export_rows import FORMATS as ROW_FORMATS
from arena_app.files.export_rows import vote_writer
from arena_app.files.fastchat_export import FASTCHAT_FORMAT, FastChatVoteWriter
from arena_app.files.output_files import OutputPathError, atomic_text_file, check_output_path
from arena_app.storage.export_queries import DEFAULT_BATCH_SIZE, VoteFilter, count_votes, stream_votes

__all__ = [
    "FORMATS",
    "MODES",
    "ExportError",
    "ExportOptions",
    "check_export_path",
    "export_votes",
    "parse_when",
]

#: csv, jsonl (our columns) and fastchat (a JSON array FastChat's elo_analysis reads, see
#: :mod:`arena_app.files.fastchat_export`)
FORMATS = (*ROW_FORMATS, FASTCHAT_FORMAT)
ALL_MODES = "all"
MODES = (BattleMode.ANONY.value, BattleMode.NAMED.value, ALL_MODES)

#: progress(done, total): total is None when it was not counted
Progress = Callable[[int, int | None], None]


class ExportError(Exception):
    """The export cannot be written (bad option or output path); the message says what to fix."""


@dataclass(frozen=True)
class ExportOptions:
    since: datetime | None = None
    until: datetime | None = None
    mode: str = ALL_MODES
    include_excluded: bool = False
    fmt: str = "csv"
    with_conversations: bool = False

    def vote_filter(self) -> VoteFilter:
        if self.mode not in MODES:
            raise ExportError(f"invalid mode {self.mode!r}: expected one of {', '.join(MODES)}")
        if self.fmt not in FORMATS:
            raise ExportError(f"invalid format {self.fmt!r}: expected one of {', '.join(FORMATS)}")
        for name, value in (("since", self.since), ("until", self.until)):
            if value is not None and value.tzinfo is None:
                raise ExportError(f"--{name} must be timezone-aware")
        if self.since and self.until and self.since >= self.until:
            raise ExportError("--since must be earlier than --until")
        return VoteFilter(
            since=self.since,
            until=self.until,
            mode=None if self.mode == ALL_MODES else self.mode,
            include_excluded=self.include_excluded,
        )


def parse_when(text: str, what: str = "date") -> datetime:
    """Parse ``2026-11-01`` or ``2026-11-01T12:30[:00][Z|+02:00]``; no zone means UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ExportError(
            f"invalid {what} {text!r}: expected ISO 8601 like 2026-11-01 or 2026-11-01T12:30:00Z"
        ) from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check_export_path(out: Path) -> None:
    """Fail early, with the fix, when ``out`` cannot be written (:class:`ExportError`)."""
    try:
        check_output_path(Path(out))
    except OutputPathError as exc:
        raise ExportError(str(exc)) from exc


def export_votes(
    factory: sessionmaker[Session],
    out: Path,
    options: ExportOptions,
    *,
    progress: Progress | None = None,
    count_total: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> int:
    """Write the votes matching ``options`` to ``out`` atomically; returns the number of rows written."""
    vote_filter = options.vote_filter()
    out = Path(out)
    check_export_path(out)
    rows = 0
    fastchat = options.fmt == FASTCHAT_FORMAT
    with atomic_text_file(out) as fh:
        conversations = options.with_conversations
        fc_writer = FastChatVoteWriter(fh, with_conversations=conversations) if fastchat else None
        writer = fc_writer or vote_writer(fh, options.fmt, with_conversations=conversations)
        with factory() as session:
            total = count_votes(session, vote_filter) if count_total else None
            if progress:
                progress(0, total)
            for vote in stream_votes(
                session,
                vote_filter,
                with_conversations=conversations,
                with_style=fastchat,
                batch_size=batch_size,
            ):
                writer.write(vote)
                rows += 1
                if progress and rows % batch_size == 0:
                    progress(rows, total)
        if fc_writer is not None:
            fc_writer.finish()
    if progress:
        progress(rows, rows)
    return rows
