"""The linters CI enforces, run as tests so `scripts/test` (and so `.ci/run`) fails when they do:
ruff check, ruff format --check and mypy (strict on the services, UI, CLI and files packages; see
pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=ROOT, capture_output=True, text=True, timeout=600)


def _ruff() -> str:
    ruff = BIN / "ruff"
    if not ruff.exists():
        pytest.fail(f"ruff is not installed next to {sys.executable}: run scripts/setup")
    return str(ruff)


def test_ruff_check_is_clean() -> None:
    result = _run(_ruff(), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_applied() -> None:
    result = _run(_ruff(), "format", "--check", ".")
    assert result.returncode == 0, "run `.venv/bin/ruff format .`:\n" + result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = _run(sys.executable, "-m", "mypy", "arena_app", "leaderboard", "workers")
    assert result.returncode == 0, result.stdout + result.stderr
