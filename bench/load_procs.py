"""Processes, databases and CPU accounting for ``bench/load.py``.

Every child is started in its own session with a parent-death signal (Linux ``PR_SET_PDEATHSIG``), and
:class:`ProcessSet` ends them (SIGTERM to the group, SIGKILL after a grace period) however the benchmark
stops: normal end, an exception, Ctrl+C or SIGTERM. CPU is read from ``/proc/PID/stat`` (utime + stime,
all threads) divided by ``SC_CLK_TCK``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
ARENA = str(Path(sys.executable).with_name("arena"))
CLK_TCK = os.sysconf("SC_CLK_TCK")
PG_ADMIN_URL = os.environ.get("ARENA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# every simulated user comes from 127.0.0.1, i.e. one client hash: the per-client rate limits are off
CHILD_ENV = {
    **os.environ,
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "ARENA_RATE_LIMIT_BATTLES": "off",
    "ARENA_RATE_LIMIT_VOTES": "off",
}


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (all its threads) in seconds, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of proc(5)


def cpu_of(pids: Iterable[int]) -> dict[int, float]:
    return {pid: cpu for pid in pids if (cpu := cpu_seconds(pid)) is not None}


def children_of(pid: int) -> list[int]:
    """Direct children (e.g. nginx workers of a master)."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: a killed benchmark leaves no server behind


class ProcessSet:
    """The children of one benchmark; closed in reverse start order."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[Any]]] = []

    def spawn(self, name: str, argv: list[str], log: Path | None, **kwargs: Any) -> subprocess.Popen[Any]:
        out: IO[bytes] | int = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("stdout", out)
        proc = subprocess.Popen(
            argv,
            stderr=out,
            env=kwargs.pop("env", CHILD_ENV),
            start_new_session=True,
            preexec_fn=_die_with_parent,
            **kwargs,
        )
        if not isinstance(out, int):
            out.close()  # the child has its own copy
        self.procs.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        self.procs = [(n, p) for n, p in self.procs if p is not proc]

    def close(self) -> None:
        for _, proc in reversed(list(self.procs)):
            self.stop(proc)

    def __enter__(self) -> ProcessSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_backend(
    procs: ProcessSet, tokens: int, token_delay_ms: float, log: Path
) -> tuple[list[str], str, int]:
    """The fake model servers (bench/load_backend.py); returns their base URLs, the first word, the pid."""
    argv = [sys.executable, str(ROOT / "bench/load_backend.py"), "--tokens", str(tokens)]
    argv += ["--token-delay-ms", str(token_delay_ms)]
    proc = procs.spawn("backend", argv, log, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"the fake backend did not start:\n{log_tail(log)}")
    info = json.loads(line)
    return list(info["base_urls"]), str(info["first_word"]), proc.pid


def write_endpoints(path: Path, base_urls: list[str]) -> Path:
    """Two battle models on the fake servers. The concurrency cap is raised above the app's 64 concurrent
    events so the benchmark measures the app, not the per-endpoint limit (16 by default)."""
    entries = {
        f"bench-{name}": {
            "api_type": "openai",
            "api_base": url,
            "api_key": "sk-bench-not-a-secret",
            "model_name": f"{name}-upstream",
            "max_concurrency": 256,
            "queue_timeout_s": 60,
            "retries": 0,
        }
        for name, url in zip(("alpha", "beta"), base_urls, strict=False)
    }
    path.write_text(json.dumps(entries, indent=2))
    return path


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/config", timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_app(
    procs: ProcessSet, port: int, endpoints: Path, database_url: str, log: Path, timeout: float = 180
) -> subprocess.Popen[Any]:
    """One ``arena serve`` on 127.0.0.1:port; returns once it answers ``GET /config``."""
    argv = [ARENA, "serve", "--host", "127.0.0.1", "--port", str(port), "--endpoints", str(endpoints)]
    env = {**CHILD_ENV, "ARENA_DATABASE_URL": database_url}
    proc = procs.spawn("arena serve", argv, log, env=env)
    deadline = time.monotonic() + timeout
    while not answers(f"http://127.0.0.1:{port}"):
        if proc.poll() is not None:
            raise RuntimeError(f"arena serve exited with {proc.returncode}:\n{log_tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"arena serve did not answer within {timeout:.0f} s:\n{log_tail(log)}")
        time.sleep(0.3)
    return proc


class PySpy:
    """``py-spy record`` on one app process over the measurement window (raw collapsed stacks,
    ``--nonblocking`` so the app is never paused); summarise with bench/profile_summary.py.

    ``--gil`` keeps only the thread holding the GIL in each sample, which tracks the app's Python CPU time:
    py-spy's default "active" samples also count every runnable thread waiting for the GIL or for a core
    (3.7x the process's CPU time in a 20-user run on this loaded machine)."""

    def __init__(self, procs: ProcessSet, pid: int, out: Path, rate: int = 100) -> None:
        self.procs, self.pid, self.out, self.rate = procs, pid, out, rate
        self.exe = Path(sys.executable).with_name("py-spy")
        if not self.exe.exists():
            raise RuntimeError(f"--py-spy needs py-spy in the venv: {sys.executable} -m pip install py-spy")
        self.proc: subprocess.Popen[Any] | None = None

    def start(self) -> None:
        argv = [str(self.exe), "record", "--pid", str(self.pid), "--rate", str(self.rate), "--format", "raw"]
        argv += ["--nonblocking", "--gil", "--output", str(self.out)]
        self.proc = self.procs.spawn("py-spy", argv, self.out.with_suffix(".log"))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.procs.stop(self.proc)


MARKER = re.compile(r"Question (\S+):")


class Database:
    """A fresh database for one run: a SQLite file in ``workdir`` or a new PostgreSQL database (dropped)."""

    def __init__(self, backend: str, workdir: Path) -> None:
        self.backend = backend
        self.name = f"arena_load_{uuid.uuid4().hex[:12]}"
        if backend == "sqlite":
            self.url = f"sqlite:///{workdir / (self.name + '.db')}"
        else:
            self.url = make_url(PG_ADMIN_URL).set(database=self.name).render_as_string(hide_password=False)
        self._admin = (
            create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT") if backend == "postgres" else None
        )

    def __enter__(self) -> Database:
        if self._admin is not None:
            with self._admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            from arena_app.storage.migrate import upgrade

            upgrade(self.url)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._admin is not None:
            with self._admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self._admin.dispose()

    def server_pids(self) -> list[int]:
        """PostgreSQL backend processes connected to this database (none for SQLite)."""
        if self._admin is None:
            return []
        with self._admin.connect() as conn:
            rows = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :d"), {"d": self.name})
            return [int(r[0]) for r in rows]

    def votes_by_marker(self) -> Counter[str]:
        """Vote rows per battle marker (the marker is in the battle's user message)."""
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    text(
                        "SELECT v.id, m.content FROM votes v JOIN battles b ON b.id = v.battle_id "
                        "JOIN messages m ON m.conversation_id = b.conversation_a_id WHERE m.role = 'user'"
                    )
                ).all()
        finally:
            engine.dispose()
        seen: dict[int, str] = {}
        for vote_id, content in rows:
            match = MARKER.search(content)
            seen.setdefault(int(vote_id), match.group(1) if match else "?")
        return Counter(seen.values())
