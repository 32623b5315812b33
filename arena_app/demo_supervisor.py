"""Keep the demo worker running: restart it with backoff when it dies or stops answering ``/health``.

:class:`WorkerSupervisor` owns one worker subprocess (started by a :class:`WorkerLauncher`, always on the
same loopback port, so the registry's endpoint URLs stay valid). A thread watches it: the process exiting,
or :data:`HEALTH_FAILURES` ``/health`` probes in a row failing, make it ``restarting``: the worker is
killed if still there, and started again after a backoff (1 s, doubling to 30 s; back to 1 s once a
worker has stayed up for a minute). After :data:`MAX_FAILED_STARTS` starts in a row that never became
healthy it is ``down`` and the supervisor stops trying (the log tail says why).

Every change of state is reported to ``on_change`` (``arena serve`` marks the demo models down in the
registry while the worker is not up, so no battle is sampled onto them) and written atomically to a status
file (:func:`status_path`) that ``arena models --demo`` reads from another process.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from arena_app.demo_convert import log_tail, offline_env

log = logging.getLogger(__name__)

UP, RESTARTING, DOWN = "up", "restarting", "down"
HEALTH_EVERY_S = 5.0
HEALTH_FAILURES = 3
BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
STABLE_AFTER_S = 60.0
MAX_FAILED_STARTS = 5
STATUS_DIR = "demo-status"


@dataclass(frozen=True)
class WorkerStatus:
    """What ``arena models`` shows about a supervised worker. ``serve_pid``: the process supervising it."""

    state: str  # UP, RESTARTING or DOWN
    restarts: int
    port: int
    worker_pid: int | None
    serve_pid: int
    since: str  # ISO time of the last change of state
    detail: str = ""  # why it is restarting or down

    @property
    def up(self) -> bool:
        return self.state == UP


@dataclass(frozen=True)
class WorkerLauncher:
    """How to start the worker: ``argv`` (listening on 127.0.0.1:``port``), its output appended to ``log``."""

    argv: Sequence[str]
    port: int
    log: Path
    preexec: Callable[[], None] | None = None

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"

    def launch(self) -> subprocess.Popen[bytes]:
        with open(self.log, "ab") as out:
            return subprocess.Popen(
                list(self.argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=offline_env(),
                preexec_fn=self.preexec,  # noqa: PLW1509 - only prctl(PDEATHSIG), no locks taken
            )


def status_path(cache_dir: Path, serve_pid: int | None = None) -> Path:
    """The status file of the supervisor in process ``serve_pid`` (default: this process)."""
    return Path(cache_dir) / STATUS_DIR / f"{os.getpid() if serve_pid is None else serve_pid}.json"


def read_statuses(cache_dir: Path) -> list[WorkerStatus]:
    """The statuses written by supervisors that are still running (files of dead processes are ignored)."""
    found = []
    for path in sorted((Path(cache_dir) / STATUS_DIR).glob("*.json")):
        try:
            status = WorkerStatus(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            continue  # being replaced, or not ours
        if _alive(status.serve_pid):
            found.append(status)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def healthy(url: str, timeout_s: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class WorkerSupervisor:
    """Runs the worker of ``launcher`` until :meth:`close`; see the module docstring.

    ``wait_ready(proc)`` waits for a freshly launched worker to answer (raising when it cannot);
    ``on_change(status)`` is called after every change of state (from the supervisor's thread); it can
    also be set later with :meth:`report_to`.
    """

    def __init__(
        self,
        launcher: WorkerLauncher,
        wait_ready: Callable[[subprocess.Popen[bytes]], None],
        *,
        status_file: Path | None = None,
        on_change: Callable[[WorkerStatus], None] | None = None,
        backoff_s: Sequence[float] = BACKOFF_S,
        health_every_s: float = HEALTH_EVERY_S,
    ) -> None:
        self._launcher, self._wait_ready = launcher, wait_ready
        self._status_file, self._on_change = status_file, on_change
        self._backoff, self._health_every = tuple(backoff_s), health_every_s
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self._status = WorkerStatus(RESTARTING, 0, launcher.port, None, os.getpid(), _now(), "starting")
        self._thread: threading.Thread | None = None
        self._last_probe = 0.0

    def report_to(self, on_change: Callable[[WorkerStatus], None]) -> None:
        """Call ``on_change(status)`` after every change of state from now on."""
        self._on_change = on_change

    @property
    def status(self) -> WorkerStatus:
        with self._lock:
            return self._status

    def adopt(self, proc: subprocess.Popen[bytes]) -> None:
        """Watch ``proc``, the first worker (started and found healthy by the caller), from now on."""
        self.proc = proc
        self._set(UP, "")
        self._thread = threading.Thread(target=self._watch, name="demo-supervisor", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop watching and stop the worker (idempotent)."""
        from arena_app.demo_convert import stop_process

        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=15)
        if self.proc is not None:
            stop_process(self.proc)
        if self._status_file is not None:
            self._status_file.unlink(missing_ok=True)

    # ------------------------------------------------------------------------------- the thread
    def _watch(self) -> None:
        failed_starts = 0
        up_since = time.monotonic()
        while not self._stopping.is_set():
            reason = self._wait_for_trouble()
            if reason is None:
                return  # closing
            restarts = self.status.restarts + 1
            stable = time.monotonic() - up_since >= STABLE_AFTER_S
            failed_starts = 0 if stable else failed_starts
            log.warning("demo worker: %s; restarting it (restart %d)", reason, restarts)
            self._kill()
            while True:
                self._set(RESTARTING, reason, restarts=restarts)
                delay = self._backoff[min(failed_starts, len(self._backoff) - 1)]
                if self._stopping.wait(delay):
                    return
                try:
                    proc = self._launcher.launch()
                    self.proc = proc
                    self._wait_ready(proc)
                except Exception as exc:  # the worker did not come up: try again, later
                    failed_starts += 1
                    reason = f"restart failed: {exc}".splitlines()[0]
                    log.warning("demo worker: %s", reason)
                    self._kill()
                    if failed_starts >= MAX_FAILED_STARTS:
                        tail = log_tail(self._launcher.log, 5)
                        self._set(DOWN, f"{failed_starts} starts failed in a row; log tail: {tail}")
                        return
                    continue
                break
            up_since = time.monotonic()
            self._set(UP, "", restarts=restarts)
            log.warning("demo worker: back up after restart %d", restarts)

    def _wait_for_trouble(self) -> str | None:
        """Block until the worker exits or fails its health checks (the reason), or closing (None)."""
        misses = 0
        while not self._stopping.wait(min(0.5, self._health_every)):
            proc = self.proc
            if proc is not None and proc.poll() is not None:
                return f"the worker process exited with code {proc.returncode}"
            if self._due_for_probe():
                misses = 0 if healthy(self._launcher.health_url) else misses + 1
                if misses >= HEALTH_FAILURES:
                    return f"the worker did not answer /health {misses} times in a row"
        return None

    def _due_for_probe(self) -> bool:
        now = time.monotonic()
        if now - self._last_probe >= self._health_every:
            self._last_probe = now
            return True
        return False

    def _kill(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def _set(self, state: str, detail: str, *, restarts: int | None = None) -> None:
        """Report the new state to ``on_change`` first (the registry must know before anyone reading
        :attr:`status` or the status file does), then publish it."""
        with self._lock:
            status = replace(
                self._status,
                state=state,
                detail=detail,
                restarts=self._status.restarts if restarts is None else restarts,
                worker_pid=self.proc.pid if self.proc is not None and state == UP else None,
                since=_now(),
            )
        if self._on_change is not None:
            try:
                self._on_change(status)
            except Exception:  # the registry update must not kill the supervisor
                log.exception("demo worker: could not report the state %s", status.state)
        with self._lock:
            self._status = status
        if self._status_file is not None:
            _write_atomically(self._status_file, json.dumps(asdict(status)))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
