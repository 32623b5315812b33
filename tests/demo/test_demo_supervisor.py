"""The supervised demo worker (arena_app/demo_supervisor.py): a killed worker comes back, battles are not
sampled onto it meanwhile, ``arena models --demo`` shows its state; a hung worker is restarted; a worker
that cannot start any more ends ``down``.

The first test runs the real ``arena worker`` with the tiny model built offline (tests/fakes/tiny_model.py)
under the demo entries; the others use a few-line HTTP server as the worker, so they need no torch.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from arena_app.cli.main import build_parser, parse_args
from arena_app.cli.settings_flags import settings_overrides
from arena_app.demo import MODEL_NAME, demo_endpoints, free_port, supervised, wait_healthy
from arena_app.demo_supervisor import (
    DOWN,
    RESTARTING,
    UP,
    WorkerLauncher,
    WorkerStatus,
    WorkerSupervisor,
    status_path,
)
from arena_app.providers.registry import ModelRegistry
from arena_app.services.runtime import demo_availability
from arena_app.services.sampling import ModelPicker
from arena_app.settings import load_settings
from tests.fakes.openai_server import OpenAIFakeServer
from tests.fakes.tiny_model import tiny_model_dir  # noqa: F401 (fixture)


def _until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _arena_models_json(cache: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    args = parse_args(build_parser(), ["models", "--demo", "--cache-dir", str(cache), "--json"])
    capsys.readouterr()
    assert args.func(args, load_settings(**settings_overrides(args))) == 0
    return list(json.loads(capsys.readouterr().out))


def test_a_killed_demo_worker_comes_back_and_no_battle_is_sampled_onto_it_meanwhile(
    tiny_model_dir: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "arena_app.cli.main", "worker", "--model-path", str(tiny_model_dir)]
    argv += ["--model-name", MODEL_NAME, "--host", "127.0.0.1", "--port", str(port)]
    launcher = WorkerLauncher(argv, port, tmp_path / "worker.log")
    cache = tmp_path / "cache"
    demo = demo_endpoints(port)
    said: list[str] = []
    with OpenAIFakeServer() as other:
        others = {
            name: {"api_type": "openai", "api_base": other.base_url, "api_key": "k", "model_name": name}
            for name in ("other-a", "other-b")
        }
        registry = ModelRegistry.from_mapping({**demo, **others})
        handle = supervised(launcher, demo, said.append, status_path(cache))
        try:
            handle.report_to(demo_availability(registry, list(demo), said.append))
            handle.wait_ready()
            supervisor = handle.supervisor
            assert supervisor is not None and supervisor.status.state == UP
            picker = ModelPicker(registry, np.random.default_rng(0), 32)
            assert set(demo) <= {m.name for m in registry.battle_models()}
            assert all(c.ok for name in demo for c in registry.check(name, timeout_s=30))
            shown = _arena_models_json(cache, capsys)
            assert {m["name"]: m["worker"]["state"] for m in shown} == dict.fromkeys(demo, UP)  # type: ignore[index]

            first_pid = supervisor.proc.pid if supervisor.proc else None
            assert first_pid is not None
            os.kill(first_pid, signal.SIGKILL)
            _until(lambda: supervisor.status.state == RESTARTING, 10, "the supervisor to notice")
            assert not set(demo) & {m.name for m in registry.battle_models()}
            shown = _arena_models_json(cache, capsys)
            assert {
                m["name"]: (m["worker"]["state"], m["worker"]["restarts"], m["healthy"]) for m in shown
            } == (  # type: ignore[index]
                dict.fromkeys(demo, (RESTARTING, 1, False))
            )
            drawn_while_down = 0
            while supervisor.status.state == RESTARTING:
                pair = picker.pick_battle()
                if supervisor.status.state != RESTARTING:
                    break  # came back during this draw: it may rightly include a demo model
                assert {pair.a.name, pair.b.name} == set(others), "a battle was sampled onto a down worker"
                drawn_while_down += 1
                time.sleep(0.005)
            assert drawn_while_down > 50

            _until(lambda: supervisor.status.state == UP, 120, "the worker to come back")
            assert supervisor.status.restarts == 1
            assert supervisor.proc is not None and supervisor.proc.pid != first_pid
            assert set(demo) <= {m.name for m in registry.battle_models()}
            assert all(c.ok for name in demo for c in registry.check(name, timeout_s=30))
            shown = _arena_models_json(cache, capsys)
            assert all(m["worker"]["state"] == UP and m["worker"]["restarts"] == 1 for m in shown)  # type: ignore[index]
            assert any("demo worker restarting (restarts: 1)" in line for line in said)
        finally:
            handle.close()
            registry.close()
    assert not status_path(cache).exists()
    assert supervisor.proc is not None and supervisor.proc.poll() is not None


# ------------------------------------------------------------------ a few-line worker, no torch needed

TOY_WORKER = """
import http.server, pathlib, sys
if pathlib.Path(sys.argv[2]).exists():
    sys.exit(3)  # "cannot start any more"
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def _toy(tmp_path: Path) -> tuple[WorkerLauncher, Path]:
    port = free_port()
    broken = tmp_path / "broken"
    return WorkerLauncher(
        [sys.executable, "-c", TOY_WORKER, str(port), str(broken)], port, tmp_path / "w.log"
    ), broken


def _toy_supervisor(
    launcher: WorkerLauncher,
    seen: list[WorkerStatus],
    backoff_s: tuple[float, ...],
    health_every_s: float = 5.0,
) -> WorkerSupervisor:
    def ready(proc: subprocess.Popen[bytes]) -> None:
        wait_healthy(launcher.health_url, proc, launcher.log, lambda _m: None, timeout_s=10)

    return WorkerSupervisor(
        launcher, ready, on_change=seen.append, backoff_s=backoff_s, health_every_s=health_every_s
    )


def test_a_worker_that_stops_answering_health_is_killed_and_restarted(tmp_path: Path) -> None:
    launcher, _ = _toy(tmp_path)
    seen: list[WorkerStatus] = []
    supervisor = _toy_supervisor(launcher, seen, backoff_s=(0.05,), health_every_s=0.1)
    proc = launcher.launch()
    try:
        wait_healthy(launcher.health_url, proc, launcher.log, lambda _m: None, timeout_s=10)
        supervisor.adopt(proc)
        os.kill(proc.pid, signal.SIGSTOP)  # alive but hung: only the health checks can tell
        _until(lambda: supervisor.status.restarts == 1 and supervisor.status.state == UP, 20, "a restart")
        assert proc.poll() is not None  # the hung one was killed, not left behind
        assert [s.state for s in seen[:3]] == [UP, RESTARTING, UP]
        assert "did not answer /health 3 times in a row" in seen[1].detail
    finally:
        supervisor.close()


def test_a_worker_that_cannot_start_again_ends_down_with_the_reason(tmp_path: Path) -> None:
    launcher, broken = _toy(tmp_path)
    seen: list[WorkerStatus] = []
    supervisor = _toy_supervisor(launcher, seen, backoff_s=(0.01, 0.02))
    proc = launcher.launch()
    try:
        wait_healthy(launcher.health_url, proc, launcher.log, lambda _m: None, timeout_s=10)
        supervisor.adopt(proc)
        broken.touch()
        proc.kill()
        _until(lambda: supervisor.status.state == DOWN, 30, "the supervisor to give up")
        status = supervisor.status
        assert status.restarts == 1 and "starts failed in a row" in status.detail
        states = [s.state for s in seen]
        assert states[0] == UP and states[-1] == DOWN and RESTARTING in states
        assert supervisor.proc is not None and supervisor.proc.poll() == 3
    finally:
        supervisor.close()
