"""Browser tests: Playwright (sync API) driving Debian's Chromium against the real app (tests/e2e/harness.py).

Chromium comes from Debian (`apt-get install -y chromium`); `playwright install` is never used. Without
chromium or playwright the tests skip with the reason, except under CI=true where they fail. A failing test
leaves a screenshot and the page HTML in test-artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.harness import RunningApp, running_app

__all__ = ["running_app"]


@pytest.fixture
def page(browser: Any, running_app: RunningApp, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context (so a fresh Gradio session) on the app, fully loaded."""
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    page_errors: list[str] = []
    pg.on("pageerror", lambda exc: page_errors.append(str(exc)))
    pg.goto(running_app.url)
    pg.wait_for_selector("#battle-send")
    pg.page_errors = page_errors
    yield pg
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        _save_artifacts(pg, request)
    context.close()


def _save_artifacts(pg: Any, request: pytest.FixtureRequest) -> None:
    out = request.config.rootpath / "test-artifacts"
    out.mkdir(exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
    try:
        pg.screenshot(path=str(out / f"{name}.png"), full_page=True)
        (out / f"{name}.html").write_text(pg.content())
    except Exception as exc:  # never hide the real failure behind an artifact problem
        print(f"could not save browser artifacts for {name}: {exc}")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)
