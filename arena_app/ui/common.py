"""Small helpers shared by the tabs: client identity from the request, chatbot values, button updates."""

from __future__ import annotations

from typing import Any

import gradio as gr

from arena_app.services.app_services import AppServices
from arena_app.services.client_id import ClientIdentity
from arena_app.ui.rendering import render_markdown, render_note

CHATBOT_KWARGS: dict[str, Any] = {
    # Our HTML is rendered and sanitised on the server (rendering.py); the browser sanitises again.
    "render_markdown": False,
    "sanitize_html": True,
    "allow_tags": False,
    "latex_delimiters": [],
    "buttons": [],
    "height": 420,
}


def identify(services: AppServices, request: gr.Request | None) -> ClientIdentity:
    """Session id + salted hash of the client address for this request."""
    peer = None
    headers: dict[str, str] = {}
    session_key = None
    if request is not None:
        client = getattr(request, "client", None)
        peer = getattr(client, "host", None)
        raw_headers = getattr(request, "headers", None) or {}
        headers = {str(k): str(v) for k, v in dict(raw_headers).items()}
        session_key = getattr(request, "session_hash", None)
    return services.identify(peer, headers, session_key)


def chatbot_value(
    pairs: list[tuple[str, str | None]], note: str | None = None, pending: bool = False
) -> list[dict[str, str]]:
    """Chat history -> gr.Chatbot messages (server-rendered HTML). ``note`` goes under the last answer."""
    messages: list[dict[str, str]] = []
    for n, (user, answer) in enumerate(pairs):
        messages.append({"role": "user", "content": render_markdown(user)})
        last = n == len(pairs) - 1
        body = render_markdown(answer) if answer else ""
        if last and note:
            body += render_note(note)
        if body or (last and pending):
            messages.append({"role": "assistant", "content": body or render_note("…")})
    return messages


def button(interactive: bool) -> Any:
    return gr.update(interactive=interactive)
