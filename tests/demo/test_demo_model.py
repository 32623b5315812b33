"""The real demo model: the converted folder loads as a plain transformers model and answers sensibly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from arena_app.demo import CACHE_NAME, MARKER, ensure_converted, is_complete, locate_gguf

pytestmark = pytest.mark.slow


def test_converted_folder_loads_offline_and_answers(demo_cache_dir: Path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = demo_cache_dir / "demo-models" / CACHE_NAME
    assert is_complete(folder)
    assert not (folder.parent / f"{CACHE_NAME}.log").exists()  # conversion log removed on success
    assert not list(folder.glob("*.gguf"))  # a plain transformers folder, not a copy of the GGUF
    config_text = (folder / "config.json").read_text()
    assert "quantization_config" not in config_text

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model: Any = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=torch.float32)
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(134.5e6, rel=0.01)
    inputs: Any = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        return_dict=True,
        return_tensors="pt",
    )
    output = model.generate(**inputs, max_new_tokens=20, do_sample=False)
    answer = tokenizer.decode(output[0][inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in answer


def test_second_start_reuses_the_cache_quickly(demo_cache_dir: Path):
    folder = demo_cache_dir / "demo-models" / CACHE_NAME
    before = (folder / MARKER).stat().st_mtime_ns
    messages: list[str] = []
    assert ensure_converted(locate_gguf(), folder, messages.append) == folder
    assert (folder / MARKER).stat().st_mtime_ns == before
    assert messages == [f"Demo model: using the converted copy in {folder}."]


def test_start_demo_serves_both_configurations_from_one_worker(demo_cache_dir: Path):
    """Real path: cached folder -> `arena worker` subprocess -> registry -> openai SDK -> answer."""
    from arena_app.demo import start_demo
    from arena_app.providers.base import ChatMessage, Completion, GenerationParams, TextDelta
    from arena_app.providers.registry import ModelRegistry
    from arena_app.settings import load_settings

    messages: list[str] = []
    handle = start_demo(load_settings(cache_dir=demo_cache_dir), messages.append, wait=False)
    try:
        assert not any("worker ready" in m for m in messages)  # returned while the model loads
        handle.wait_ready()
        assert any("worker ready" in m for m in messages)
        assert not any("converting" in m for m in messages)  # the session fixture converted already
        worker = handle.processes[0]
        registry = ModelRegistry.from_mapping(handle.endpoints)
        names = [m.name for m in registry.battle_models()]
        assert names == ["SmolLM2-135M-Instruct (greedy)", "SmolLM2-135M-Instruct (sampled, T=0.9)"]
        greedy = registry.get(names[0])
        assert greedy.params.temperature == 0.0
        question = [ChatMessage(role="user", content="What is the capital of France?")]
        params = GenerationParams(temperature=0.0, max_new_tokens=12)
        events = list(registry.stream(names[0], question, params))
        text = "".join(e.text for e in events if isinstance(e, TextDelta))
        assert "Paris" in text
        assert isinstance(events[-1], Completion) and events[-1].output_tokens
    finally:
        handle.close()
    assert worker.poll() is not None  # close() stopped the worker
    assert handle.processes == []
