"""Small helpers shared by the tabs: client identity from the request, chatbot values, button updates,
the generation-parameter sliders, the loop that turns a streaming service call into UI updates, and
:func:`failure_notice`, THE one place where an exception raised by a service becomes status text."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol, TypeVar

import gradio as gr
from gradio.components import Component

from arena_app.services.app_services import AppServices
from arena_app.services.client_id import ClientIdentity
from arena_app.services.errors import DB_DOWN, Refused, Unavailable
from arena_app.ui.rendering import render_markdown, render_note

log = logging.getLogger(__name__)

#: What the user sees when a handler hit a bug of ours. It must not claim that anything was saved.
SOMETHING_WENT_WRONG = (
    "❌ Something went wrong on our side (the error was logged). What you just did may not have been "
    "saved; please try again."
)
S = TypeVar("S")
S_contra = TypeVar("S_contra", contravariant=True)

#: What a handler returns for its outputs, in order: component values and ``gr.update(...)`` dicts.
Outputs = tuple[object, ...]
#: A ``gr.update(...)`` of one component.
Update = dict[str, object]


class Render(Protocol[S_contra]):
    """A tab's renderer: every output for ``state``; ``notice`` replaces the status text and
    ``input_value`` (when not None) the input box's text."""

    def __call__(
        self, state: S_contra, notice: str | None = None, input_value: str | None = None
    ) -> Outputs: ...


def chatbot(label: str, elem_id: str) -> gr.Chatbot:
    """A chatbot showing our server-rendered HTML (rendering.py); the browser sanitises it again."""
    return gr.Chatbot(
        label=label,
        elem_id=elem_id,
        render_markdown=False,
        sanitize_html=True,
        allow_tags=False,
        latex_delimiters=[],
        buttons=[],
        height=420,
    )


def failure_notice(exc: Exception) -> str:
    """The status text for an exception a handler caught (the UI's one mapping of service errors).

    A refusal (:class:`Refused`: bad input, a rule, the wrong moment) is shown as its own message; an
    unavailable database as :data:`DB_DOWN`. Anything else is a bug: it is logged here, once, with its
    traceback, and the user gets a generic message.
    """
    if isinstance(exc, Refused):
        return f"⚠️ {exc}"
    if isinstance(exc, Unavailable):
        return f"⚠️ {DB_DOWN}"
    log.error("unexpected error in a UI handler", exc_info=exc)
    return SOMETHING_WENT_WRONG


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


# Rendered HTML of texts that no longer change (user messages, finished answers), so a streaming update
# re-renders only the live answer. Bounded; shared by all sessions (same text, same HTML).
_render_settled = lru_cache(maxsize=512)(render_markdown)


def chatbot_value(
    pairs: list[tuple[str, str | None]], note: str | None = None, pending: bool = False
) -> list[dict[str, str]]:
    """Chat history -> gr.Chatbot messages (server-rendered HTML). ``note`` goes under the last answer."""
    messages: list[dict[str, str]] = []
    for n, (user, answer) in enumerate(pairs):
        messages.append({"role": "user", "content": _render_settled(user)})
        last = n == len(pairs) - 1
        # only the answer being streamed changes between updates; every other text is rendered once
        render = render_markdown if last and pending else _render_settled
        body = render(answer) if answer else ""
        if last and note:
            body += render_note(note)
        if body or (last and pending):
            messages.append({"role": "assistant", "content": body or render_note("…")})
    return messages


def button(interactive: bool) -> Update:
    return gr.update(interactive=interactive)


@dataclass(frozen=True)
class ParamSliders:
    temperature: gr.Slider
    top_p: gr.Slider
    max_tokens: gr.Slider

    def inputs(self) -> list[Component]:
        return [self.temperature, self.top_p, self.max_tokens]


def param_sliders(services: AppServices, prefix: str) -> ParamSliders:
    """Temperature, top p and max output tokens in a closed accordion (ids ``{prefix}-temperature`` ...)."""
    with gr.Accordion("Parameters", open=False):
        temperature = gr.Slider(
            0.0, 2.0, value=0.7, step=0.05, label="Temperature", elem_id=f"{prefix}-temperature"
        )
        top_p = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="Top p", elem_id=f"{prefix}-top-p")
        max_tokens = gr.Slider(
            16,
            services.settings.max_new_tokens * 4,
            value=services.settings.max_new_tokens,
            step=16,
            label="Max output tokens",
            elem_id=f"{prefix}-max-tokens",
        )
    return ParamSliders(temperature, top_p, max_tokens)


def drive_stream(
    render: Render[S], state: S, run: Callable[[], Iterator[S]], keep_text: str
) -> Iterator[Outputs]:
    """Turn a streaming service call into UI updates: ``render(state, notice=..., input_value=...)`` after
    every step. An error becomes a status message (:func:`failure_notice`); when it comes before anything
    was sent, the user's text stays in the input box."""
    first = True
    try:
        for current in run():
            yield render(current, input_value="" if first else None)
            first = False
    except Exception as exc:  # every error becomes status text; bugs are logged by failure_notice
        yield render(state, notice=failure_notice(exc), input_value=keep_text if first else None)
