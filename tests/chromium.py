"""The session's one Chromium (Playwright's sync API driving Debian's chromium), for every browser test.

Defined once, in the root conftest's namespace (``tests/conftest.py`` imports it), so the browser tests and
the deploy tests share one instance: two ``sync_playwright()`` contexts cannot be open in one thread at once.
Without chromium or playwright the tests skip with the reason, except under CI=true where they fail.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.ci import IN_CI

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: browser tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = shutil.which("chromium")
    if executable is None:
        _unavailable("Debian chromium not found on PATH; install it with: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed (pip install -e '.[dev]')")
    from playwright.sync_api import expect

    # The shared 2-core machine can be slow (plotly's bundle loads lazily): waits are explicit but generous.
    expect.set_options(timeout=15_000)
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
