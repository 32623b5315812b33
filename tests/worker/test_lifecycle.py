"""Start-up: health before and after loading, load failures, the no-chat-template fallback, the CLI."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import openai
import pytest

from arena_app.cli.main import main as arena_main
from tests.worker.harness import MODEL_NAME, run_worker
from workers.loading import LoadedModel, load_model
from workers.prompting import fallback_prompt


def test_health_is_503_until_the_model_is_loaded(tiny_model_dir: Path) -> None:
    gate = threading.Event()

    def gated_loader() -> LoadedModel:
        gate.wait(timeout=30)  # hold the real loader back so the test can look at the worker before load
        return load_model(tiny_model_dir, name=MODEL_NAME, device="cpu")

    with run_worker(tiny_model_dir, loader=gated_loader) as worker:
        health = worker.http.get("/health")
        assert health.status_code == 503
        assert health.json()["status"] == "loading"
        with pytest.raises(openai.InternalServerError) as caught:
            worker.client().chat.completions.create(
                model=MODEL_NAME, messages=[{"role": "user", "content": "hi"}]
            )
        assert caught.value.status_code == 503
        gate.set()
        worker.wait_healthy()
        assert worker.http.get("/health").json()["status"] == "ok"
        response = worker.client().chat.completions.create(
            model=MODEL_NAME, messages=[{"role": "user", "content": "hi"}], max_tokens=3
        )
        assert response.usage is not None and 1 <= response.usage.completion_tokens <= 3


def test_a_folder_without_a_model_reports_the_error_on_health(tmp_path: Path) -> None:
    with run_worker(tmp_path) as worker:
        for _ in range(200):
            body = worker.http.get("/health").json()
            if body["status"] == "error":
                break
            threading.Event().wait(0.05)
        assert body["status"] == "error"
        assert "config.json" in body["detail"]
        assert worker.http.get("/health").status_code == 503


def test_tokenizer_without_chat_template_uses_the_documented_fallback(
    tiny_model_dir_no_template: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from transformers import AutoTokenizer

    messages: Any = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]
    caplog.set_level("WARNING", logger="workers")
    with run_worker(tiny_model_dir_no_template) as worker:
        worker.wait_healthy()
        assert "has no chat template" in caplog.text
        assert worker.http.get("/health").json()["chat_template"] == "fallback"
        response = worker.client().chat.completions.create(
            model=MODEL_NAME,
            messages=messages,
            max_tokens=4,
        )
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir_no_template, local_files_only=True)
    assert fallback_prompt(messages) == "System: Be brief.\n\nUser: Hello there\n\nAssistant:"
    expected_prompt_tokens = len(tokenizer(fallback_prompt(messages))["input_ids"])
    assert response.usage is not None and response.usage.prompt_tokens == expected_prompt_tokens


def test_cli_reports_a_missing_model_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope"
    code = arena_main(["worker", "--model-path", str(missing), "--model-name", "x", "--port", "1"])
    assert code == 1
    assert "is not a directory" in capsys.readouterr().err


def test_arena_help_works_without_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None\n"
        "from arena_app.cli.main import main\n"
        "for argv in (['--help'], ['worker', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, exc.code\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "--max-batch-size" in result.stdout


def test_a_chat_template_that_rejects_the_messages_gives_a_400(tmp_path: Path) -> None:
    from tests.fakes.tiny_model import CHATML_TEMPLATE, build_tiny_model

    model_dir = build_tiny_model(tmp_path / "strict")
    strict = (
        "{% if messages[0]['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}" + CHATML_TEMPLATE
    )
    (model_dir / "chat_template.jinja").write_text(strict)
    with run_worker(model_dir) as worker:
        worker.wait_healthy()
        client = worker.client()
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(
                model=MODEL_NAME,
                messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
            )
        assert "System role not supported" in caught.value.message
        ok = client.chat.completions.create(
            model=MODEL_NAME, messages=[{"role": "user", "content": "hi"}], max_tokens=2
        )
        assert ok.usage is not None and ok.usage.completion_tokens <= 2
