"""Upstream error text and model text are data, never markup: an HTTP 400 error body and a model answer
carrying ``<img>``, ``<a>``, ``<form>``, Markdown images and links and ``//host`` URLs render as text, no
element of theirs comes alive in the status area or the chat, and no request reaches the planted host (a
loopback HTTP server that counts every hit). Hidden model names are still replaced before the reveal."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import choose, open_tab, send
from tests.e2e.harness import RunningApp
from tests.e2e.helpers import marker
from tests.fakes.openai_server import Reply

pytestmark = pytest.mark.browser


class PlantedHost:
    """A loopback HTTP server that answers anything with a 1x1 PNG and counts the requests."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                hits.append(f"{self.command} {self.path}")
                body = bytes.fromhex(
                    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
                )
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_HEAD = _answer  # noqa: N815 - http.server's method names

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def payload(self, tag: str, name: str = "") -> str:
        """The planted markup; ``name`` (a hidden model name) first, so the error's 200-character cut
        keeps it."""
        h = self.address
        return (
            f"{name}{tag} <img src=//{h}/{tag}.png> <a href=//{h}/x>Session expired: log in again</a> "
            f"<form action=//{h}/f method=post><input name=q value=1><button>Go</button></form> "
            f"![pic](//{h}/md.png) [log in](//{h}/login) www.example.com //{h}/raw"
        )


@pytest.fixture
def planted() -> Iterator[PlantedHost]:
    host = PlantedHost()
    host.thread.start()
    try:
        yield host
    finally:
        host.server.shutdown()
        host.server.server_close()


def _nothing_live(page: Any, root: str, planted: PlantedHost) -> None:
    assert page.locator(f"{root} img, {root} form, {root} input[name=q]").count() == 0, root
    assert page.locator(f'{root} a[href*="{planted.address}"]').count() == 0, root


def test_upstream_error_and_model_text_render_as_text(
    page: Any, running_app: RunningApp, planted: PlantedHost
) -> None:
    app, mk = running_app, marker()
    with (
        app.upstream.override(
            "zephyrine-upstream", Reply.error(400, planted.payload("err", "Zephyrine-7B "))
        ),
        app.upstream.override("quillion-upstream", Reply.text(planted.payload("model") + " done.")),
    ):
        send(page, "battle", f"show me {mk}")
        expect(page.locator("#battle-status")).to_contain_text("cannot be voted")
    status = page.locator("#battle-status")
    expect(status).to_contain_text(f"<img src=//{planted.address}/err.png>")  # shown, as text
    expect(status).to_contain_text("Session expired: log in again</a>")
    assert status.locator("a").count() == 0  # the status area has no link at all
    _nothing_live(page, "#battle-status", planted)
    for chatbot in ("#battle-chatbot-a", "#battle-chatbot-b"):
        _nothing_live(page, chatbot, planted)
    expect(
        page.locator("#battle-chatbot-a, #battle-chatbot-b").locator("text=<form action=").first
    ).to_be_visible()
    html = page.content().lower()
    assert "zephyrine" not in html and "quillion" not in html  # the hidden names, replaced before the reveal
    expect(status).to_contain_text("[hidden]")
    page.wait_for_timeout(1500)  # anything the page would load from the planted host has been requested
    assert planted.hits == []


def test_direct_chat_error_status_is_text(page: Any, running_app: RunningApp, planted: PlantedHost) -> None:
    app = running_app
    open_tab(page, "chat")
    choose(page, "chat-model", "Guava-Chat")
    with app.upstream.override("guava-upstream", Reply.error(400, planted.payload("chat"))):
        send(page, "chat", f"hello {marker()}")
        expect(page.locator("#chat-status")).to_contain_text("Press Regenerate or Clear")
    status = page.locator("#chat-status")
    expect(status).to_contain_text(f"<img src=//{planted.address}/chat.png>")
    assert status.locator("a").count() == 0
    _nothing_live(page, "#chat-status", planted)
    _nothing_live(page, "#chat-chatbot", planted)
    page.wait_for_timeout(1500)
    assert planted.hits == []
