"""A visitor's screens on desktop and at 375x800: the leaderboard's empty state, every leaderboard column
reachable inside its own scroll box, no page-level horizontal overflow, the vote bar on screen, examples
and copy buttons."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import last_answer, send, wait_answers_done
from tests.browser.test_browser_tabs import _seed_votes
from tests.e2e.harness import RunningApp, launch_app
from tests.e2e.helpers import marker

pytestmark = pytest.mark.browser

DONE_TEXT = "in several small pieces."
PHONE = {"width": 375, "height": 800}
PAGE_OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.fixture(scope="module")
def empty_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """An app whose database has no snapshot at all (the session app gets some from other tests)."""
    with launch_app(tmp_path_factory.mktemp("empty-arena")) as app:
        yield app


@pytest.fixture
def phone(browser: Any, running_app: RunningApp, request: pytest.FixtureRequest) -> Iterator[Any]:
    from tests.browser.conftest import _save_artifacts

    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    pg.goto(running_app.url)
    pg.wait_for_selector("#battle-send")
    yield pg
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        _save_artifacts(pg, request)
    context.close()


@pytest.mark.parametrize("viewport", [{"width": 1400, "height": 1000}, PHONE], ids=["desktop", "phone"])
def test_leaderboard_empty_state_is_for_visitors(browser: Any, empty_app: RunningApp, viewport: Any) -> None:
    context = browser.new_context(viewport=viewport)
    pg = context.new_page()
    try:
        pg.goto(empty_app.url + "?tab=leaderboard")
        expect(pg.locator("#lb-empty")).to_contain_text("No ratings yet")
        expect(pg.locator("#lb-summary")).to_contain_text("No ratings yet")
        text = pg.locator("#tab-leaderboard").inner_text()
        assert "arena leaderboard" not in text and "`" not in text  # no operator command, no raw backticks
        for plot in ("lb-plot-ci", "lb-plot-winrate", "lb-plot-battle-count", "lb-plot-avg-winrate"):
            expect(pg.locator(f"#{plot}")).to_be_hidden()  # no empty chart frames
        assert pg.evaluate(PAGE_OVERFLOW) <= 0
    finally:
        context.close()


def test_phone_reaches_every_leaderboard_column_without_page_overflow(
    phone: Any, running_app: RunningApp
) -> None:
    from arena_app.services.leaderboard_service import RecomputeParams, recompute
    from leaderboard.compute import ComputeParams

    _seed_votes(running_app, "mob", 6, answers=False)
    recompute(
        running_app.services.session_factory,
        RecomputeParams(compute=ComputeParams(rounds=20, style_control=False)),
    )
    phone.goto(running_app.url + "?tab=leaderboard")  # on a phone the tabs fold into a menu
    box = phone.locator("#lb-table .lb-scroll").first
    expect(box.locator("tbody tr").first).to_be_visible()
    sizes = box.evaluate("(el) => [el.scrollWidth, el.clientWidth]")
    assert sizes[0] > sizes[1], sizes  # the table is wider than the screen: it scrolls in its box
    box.evaluate("(el) => { el.scrollLeft = el.scrollWidth; }")
    last = box.locator("thead th").last
    expect(last).to_have_text("License")
    edge = last.bounding_box()
    assert edge is not None and 0 <= edge["x"] and edge["x"] + edge["width"] <= PHONE["width"] + 1, edge
    for tab in ("battle", "sbs", "chat", "about", "leaderboard"):
        phone.goto(running_app.url + f"?tab={tab}")
        expect(phone.locator(f"#tab-{tab}")).to_be_visible()
        assert phone.evaluate(PAGE_OVERFLOW) <= 0, tab  # never a page wider than the phone
    for plot in ("lb-plot-ci", "lb-plot-winrate"):
        svg = phone.locator(f"#{plot} svg.main-svg").first
        expect(svg).to_be_visible()
        shape = svg.bounding_box()
        assert shape is not None and shape["x"] >= 0 and shape["x"] + shape["width"] <= PHONE["width"] + 1


def test_phone_vote_bar_is_on_screen_after_both_answers(phone: Any, running_app: RunningApp) -> None:
    mk = marker()
    send(phone, "battle", f"a long one please {mk}")
    wait_answers_done(phone, "battle", ("battle-chatbot-a", "battle-chatbot-b"), DONE_TEXT)
    phone.evaluate("() => window.scrollTo(0, 0)")
    vote = phone.locator("#battle-vote-a")
    expect(vote).to_be_enabled()
    box = vote.bounding_box()
    assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= PHONE["height"], box
    # what is at the button's centre is the button (not covered by anything)
    hit = phone.evaluate(
        "([x, y]) => { const el = document.elementFromPoint(x, y); return !!el && !!el.closest('#battle-vote-a'); }",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    assert hit
    assert phone.evaluate(PAGE_OVERFLOW) <= 0


def test_example_prompt_fills_the_box_and_copy_copies_the_text(page: Any, running_app: RunningApp) -> None:
    example = page.locator("#battle-example-0")
    expect(example).to_be_visible()
    text = example.inner_text()
    example.click()
    expect(page.locator("#battle-input textarea")).to_have_value(text)
    mk = marker()
    send(page, "battle", f"copy me {mk}")
    wait_answers_done(page, "battle", ("battle-chatbot-a", "battle-chatbot-b"), DONE_TEXT)
    expect(page.locator("#battle-examples")).to_be_hidden()  # only on an empty battle
    answer = last_answer(page, "battle-chatbot-a")
    copy = answer.locator(".arena-copy")
    expect(copy).to_have_count(1)
    copy.click()
    copied = page.evaluate("() => window.__arenaLastCopy")
    assert "streamed" in copied and "<" not in copied and "**" not in copied  # the text, not HTML
    page.click("#battle-new-round")
    expect(page.locator("#battle-examples")).to_be_visible()
