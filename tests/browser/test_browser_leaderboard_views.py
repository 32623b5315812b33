"""The Leaderboard tab's rating-over-time chart and per-model page in Chromium, on desktop and at 375x800:
the chart is drawn, picking a model shows its head-to-head table (the services' numbers) in its own scroll
box, and the page never gets wider than the screen."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import choose
from tests.browser.test_browser_mobile import PAGE_OVERFLOW, PHONE
from tests.browser.test_browser_tabs import _seed_votes
from tests.e2e.harness import RunningApp

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", [{"width": 1400, "height": 1000}, PHONE], ids=["desktop", "phone"])
def test_model_page_and_rating_history_are_shown(
    browser: Any, running_app: RunningApp, viewport: Any, request: pytest.FixtureRequest
) -> None:
    from arena_app.services.leaderboard_service import RecomputeParams, recompute
    from leaderboard.compute import ComputeParams
    from tests.browser.conftest import _save_artifacts

    _seed_votes(running_app, f"h2h{viewport['width']}", 5, answers=False)
    params = RecomputeParams(compute=ComputeParams(rounds=5, style_control=False))
    recompute(running_app.services.session_factory, params)
    context = browser.new_context(viewport=viewport)
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    try:
        pg.goto(running_app.url + "?tab=leaderboard")
        expect(pg.locator("#lb-plot-history svg.main-svg").first).to_be_visible()
        choose(pg, "lb-model", "Quillion-Large")
        table = pg.locator("#lb-h2h-scroll #lb-h2h-table")
        expect(table).to_be_visible()
        h2h = running_app.services.head_to_head("Quillion-Large")
        row = next(r for r in h2h.rows if r.opponent == "Zephyrine-7B")
        cells = table.locator("tbody tr", has_text="Zephyrine-7B").locator("td")
        expect(cells).to_have_text(
            [
                "Zephyrine-7B",
                str(row.battles),
                str(row.wins),
                str(row.losses),
                str(row.ties),
                f"{100 * row.win_rate:.1f}%",
            ]
        )
        assert pg.evaluate(PAGE_OVERFLOW) <= 0  # the table scrolls in its box, never the page
    except Exception:
        _save_artifacts(pg, request)
        raise
    finally:
        context.close()
