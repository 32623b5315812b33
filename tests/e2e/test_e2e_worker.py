"""A battle through the real app against the real local worker (`arena worker`) serving the tiny model."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client

from arena_app.demo import free_port, wait_healthy
from tests.ci import require_module
from tests.e2e.harness import RunningApp, launch_app
from tests.e2e.helpers import CHAT_A, CHAT_B, STATUS, last_answer, marker, plain

require_module("torch", "the local worker needs the [worker] extra (torch, transformers)")
from tests.fakes.tiny_model import tiny_model_dir  # noqa: E402

__all__ = ["tiny_model_dir"]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def worker_url(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    cmd = [
        sys.executable,
        "-m",
        "arena_app.cli.main",
        "worker",
        "--model-path",
        str(tiny_model_dir),
        "--model-name",
        "tiny",
        "--port",
        str(port),
        "--device",
        "cpu",
        "--max-new-tokens-limit",
        "64",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", proc, log, lambda _m: None, timeout_s=120)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def worker_app(worker_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    def mapping(_oa: str, _an: str) -> dict[str, dict[str, Any]]:
        common = {"api_type": "openai", "api_base": worker_url, "model_name": "tiny", "retries": 0}
        return {
            "Tiny (greedy)": {**common, "recommended_config": {"temperature": 0.0, "max_new_tokens": 24}},
            "Tiny (sampled)": {**common, "recommended_config": {"temperature": 0.9, "max_new_tokens": 24}},
        }

    with launch_app(tmp_path_factory.mktemp("worker-app"), mapping) as app:
        yield app


def test_battle_against_the_real_worker(worker_app: RunningApp) -> None:
    app, mk = worker_app, marker()
    client = Client(app.url, verbose=False)
    job = client.submit(f"Hello {mk}", api_name="/battle_send")
    updates = list(job)
    final = job.result()
    assert len(updates) >= 3
    for idx in (CHAT_A, CHAT_B):
        assert plain(last_answer(final[idx])).strip()  # the tiny model's (random-weight) text arrived
    assert "Vote" in final[STATUS]

    voted = client.predict(api_name="/battle_vote_a")
    assert "vote was recorded" in voted[STATUS]
    battle = app.battle_for_message(mk)
    assert {battle["model_a"], battle["model_b"]} == {"Tiny (greedy)", "Tiny (sampled)"}
    assert [v["outcome"] for v in app.vote_rows(battle["id"])] == ["model_a"]
    answers = app.rows(
        "SELECT finish_reason, output_tokens, ttft_s FROM messages WHERE role = 'assistant' "
        "AND conversation_id IN (:a, :b)",
        a=battle["conversation_a_id"],
        b=battle["conversation_b_id"],
    )
    assert len(answers) == 2
    for row in answers:
        assert row["finish_reason"] in {"stop", "length"}
        assert 0 < row["output_tokens"] <= 24  # the worker honoured the configured max_new_tokens
        assert row["ttft_s"] is not None and row["ttft_s"] > 0
