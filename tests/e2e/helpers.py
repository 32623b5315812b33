"""Small helpers for reading gradio_client outputs of the arena's events."""

from __future__ import annotations

import re
import uuid
from typing import Any

# Output order of every battle/side-by-side event as gradio_client returns it (buttons are not returned):
# (input textbox, chatbot A, chatbot B, status markdown, reveal markdown)
INPUT, CHAT_A, CHAT_B, STATUS, REVEAL = range(5)
# Direct chat events: (input textbox, chatbot, status markdown)
CHAT_INPUT, CHAT_BOT, CHAT_STATUS = range(3)


def marker() -> str:
    """A unique word to find this test's rows in the shared database."""
    return "mk" + uuid.uuid4().hex[:10]


def messages(chatbot: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Gradio 6 chatbot value -> [(role, html text)], content parts joined."""
    out = []
    for msg in chatbot or []:
        content = msg["content"]
        if isinstance(content, list):
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        out.append((msg["role"], str(content)))
    return out


def last_answer(chatbot: list[dict[str, Any]]) -> str:
    msgs = messages(chatbot)
    assert msgs and msgs[-1][0] == "assistant", msgs
    return msgs[-1][1]


def plain(html_text: str) -> str:
    return re.sub(r"<[^>]+>", "", html_text)
