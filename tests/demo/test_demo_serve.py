"""The README run command for real: `arena serve --demo` (subprocess) serves SmolLM2 offline, no keys."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from arena_app.demo import free_port

pytestmark = pytest.mark.slow


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def test_arena_serve_demo_answers_and_stops_its_worker(demo_cache_dir: Path, tmp_path: Path) -> None:
    from gradio_client import Client
    from sqlalchemy import create_engine, text

    port = free_port()
    db = tmp_path / "arena.db"
    log = tmp_path / "serve.log"
    env = {
        **os.environ,
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        "ARENA_DATABASE_URL": f"sqlite:///{db}",
        "ARENA_CACHE_DIR": str(demo_cache_dir),
    }
    cmd = [sys.executable, "-m", "arena_app.cli.main", "serve", "--demo", "--port", str(port)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 300
        while _status(f"http://127.0.0.1:{port}/") != 200:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        output = log.read_text()
        assert "using the converted copy" in output  # the session fixture converted it already
        worker_port = int(re.findall(r"local worker on 127\.0\.0\.1:(\d+)", output)[0])

        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        final = client.predict(
            "What is the capital of France?",
            "SmolLM2-135M-Instruct (greedy)",
            0.0,
            1.0,
            16,
            api_name="/chat_send",
        )
        assert "Paris" in repr(final[1])
        engine = create_engine(f"sqlite:///{db}")
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT c.model_name, m.content FROM messages m JOIN conversations c "
                    "ON c.id = m.conversation_id WHERE m.role = 'assistant'"
                )
            ).all()
        engine.dispose()
        assert [r[0] for r in rows] == ["SmolLM2-135M-Instruct (greedy)"] and "Paris" in rows[0][1]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    # The worker does not outlive the server, even though SIGTERM skipped the server's cleanup code.
    deadline = time.monotonic() + 30
    while _status(f"http://127.0.0.1:{worker_port}/health") is not None:
        assert time.monotonic() < deadline, "the demo worker outlived `arena serve`"
        time.sleep(0.5)
