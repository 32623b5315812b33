"""What a test may skip on a laptop but must never skip in CI (``CI=true``): there it fails instead."""

from __future__ import annotations

import importlib.util
import os

import pytest

IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def skip_or_fail(message: str) -> None:
    """Skip with ``message`` (also at module level), or fail under CI=true."""
    if IN_CI:
        pytest.fail(f"{message} (CI=true: this test must run)", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def require_module(name: str, reason: str) -> None:
    if importlib.util.find_spec(name) is None:
        skip_or_fail(f"{reason}: {name} is not installed")
