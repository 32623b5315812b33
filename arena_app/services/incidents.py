"""Database failures in the log: one line per incident, a traceback at most every few minutes.

During an outage every request fails the same way; a traceback per request buried the log (about 55,000
lines in one outage test) and hid whatever else happened. :data:`DATABASE` (the one incident log of
the process, like a logger) is told about every failure that means "the database is not available"
(:func:`arena_app.services.errors.storage_errors` and the answer persister report to it) and writes:

- the first failure of an incident: one WARNING line with the error's first line, and the traceback
  when none was logged in the last ``traceback_every_s``;
- nothing for the failures that follow while the incident lasts (they are counted);
- an incident ends after ``quiet_s`` without a failure; the next failure opens a new one, and its line
  says how many failures the previous one had and how long it lasted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class IncidentLog:
    def __init__(
        self,
        what: str,
        *,
        quiet_s: float = 60.0,
        traceback_every_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger = log,
    ) -> None:
        self.what = what
        self.quiet_s = quiet_s
        self.traceback_every_s = traceback_every_s
        self._clock = clock
        self._log = logger
        self._lock = threading.Lock()
        self._started: float | None = None  # the open incident: first and last failure, count
        self._last: float = 0.0
        self._count = 0
        self._last_traceback: float | None = None

    def report(self, exc: BaseException) -> None:
        """Count one failure; log it when it opens an incident."""
        now = self._clock()
        with self._lock:
            if self._started is not None and now - self._last < self.quiet_s:
                self._last, self._count = now, self._count + 1
                return
            previous = ""
            if self._started is not None:
                previous = (
                    f" (the previous incident: {self._count} failure{'s' if self._count != 1 else ''} "
                    f"over {self._last - self._started:.0f} s)"
                )
            self._started, self._last, self._count = now, now, 1
            with_traceback = (
                self._last_traceback is None or now - self._last_traceback >= self.traceback_every_s
            )
            if with_traceback:
                self._last_traceback = now
        detail = _first_line(exc)
        self._log.warning(
            "%s unavailable: %s; further failures are counted, not logged, until none for %.0f s%s",
            self.what,
            detail,
            self.quiet_s,
            previous,
            exc_info=exc if with_traceback else None,
        )

    @property
    def failures(self) -> int:
        """Failures of the open (or last) incident."""
        with self._lock:
            return self._count


def _first_line(exc: BaseException) -> str:
    """The storage error's own line (it names the database with any password masked, and the driver's
    first line); never the driver exception's text, which may carry more."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


#: the process's incident log of database failures
DATABASE = IncidentLog("database")
