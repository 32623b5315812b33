"""Page helpers for the browser tests, using the elem_ids documented in docs/ui.md."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

BOT = "[data-testid=bot]"
USER = "[data-testid=user]"

# Records, for each chatbot, every distinct length of its last answer while it streams.
WATCH_STREAMS = """
(ids) => {
  window.__lengths = {};
  for (const id of ids) {
    window.__lengths[id] = [];
    const root = document.getElementById(id);
    const record = () => {
      const bots = root.querySelectorAll('[data-testid=bot]');
      const text = bots.length ? bots[bots.length - 1].innerText : '';
      const seen = window.__lengths[id];
      if (seen[seen.length - 1] !== text.length) seen.push(text.length);
    };
    new MutationObserver(record).observe(root, {subtree: true, childList: true, characterData: true});
  }
}
"""


def open_tab(page: Any, tab: str) -> None:
    page.click(f"#tab-{tab}-button")


def send(page: Any, prefix: str, text: str) -> None:
    page.fill(f"#{prefix}-input textarea", text)
    page.click(f"#{prefix}-send")


def last_answer(page: Any, chatbot_id: str) -> Any:
    return page.locator(f"#{chatbot_id} {BOT}").last


def wait_answers_done(page: Any, prefix: str, chatbots: tuple[str, ...], expected_text: str) -> None:
    """Wait until every chatbot's last answer shows ``expected_text`` and the send button is back."""
    for chatbot in chatbots:
        expect(last_answer(page, chatbot)).to_contain_text(expected_text)
    expect(page.locator(f"#{prefix}-send")).to_be_enabled()


def choose(page: Any, dropdown_id: str, option: str) -> None:
    page.click(f"#{dropdown_id} input")
    page.click(f'#{dropdown_id} li[role=option][aria-label="{option}"]')
    expect(page.locator(f"#{dropdown_id} input")).to_have_value(option)
