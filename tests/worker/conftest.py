"""Worker test fixtures: the tiny model, a real worker on loopback, a reference (helpers: harness.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ci import require_module

require_module("torch", "the worker tests need the [worker] extra (torch, transformers)")

from tests.fakes.tiny_model import tiny_model_dir, tiny_model_dir_no_template  # noqa: E402, F401 (fixtures)
from tests.worker.harness import RunningWorker, run_worker  # noqa: E402


@pytest.fixture(scope="session")
def worker(tiny_model_dir: Path) -> Iterator[RunningWorker]:  # noqa: F811
    with run_worker(tiny_model_dir) as running:
        running.wait_healthy()
        yield running


@pytest.fixture(scope="session")
def reference(tiny_model_dir: Path) -> Callable[[list[dict[str, str]], int], str]:  # noqa: F811
    """Greedy text from plain ``model.generate`` (one prompt at a time), on a separate copy of the model."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, local_files_only=True).eval()

    def greedy(messages: list[dict[str, str]], max_new_tokens: int) -> str:
        inputs: Any = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
        )
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
        return str(tokenizer.decode(out[0][inputs["input_ids"].shape[1] :], skip_special_tokens=True))

    return greedy
