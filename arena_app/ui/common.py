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

from arena_app.services.answers import displayable, params_text
from arena_app.services.app_services import AppServices
from arena_app.services.client_id import ClientIdentity
from arena_app.services.errors import DB_DOWN, Refused, Unavailable
from arena_app.ui.rendering import inline_code, render_markdown, render_note

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
    note: gr.Markdown  # whether the values are the chosen model's recommended settings

    def inputs(self) -> list[Component]:
        return [self.temperature, self.top_p, self.max_tokens]

    def outputs(self) -> list[Component]:
        """What :func:`slider_values` updates."""
        return [self.temperature, self.top_p, self.max_tokens, self.note]


def params_note(
    services: AppServices, model: str | None, temperature: float, top_p: float, tokens: float
) -> str:
    """Says whether the sliders hold ``model``'s recommended settings, and what differs if not."""
    if not model:
        return ""
    rec = services.recommended_params(model)
    try:
        now = services.user_params(temperature, top_p, tokens)
    except Refused as exc:  # a value no slider can hold (sent through the API): say so
        return failure_notice(exc)
    changed = [
        f"{name} {mine:g} (recommended {theirs:g})"
        for name, mine, theirs in (
            ("temperature", now.temperature, rec.temperature),
            ("top p", now.top_p, rec.top_p),
            ("max tokens", now.max_new_tokens, rec.max_new_tokens),
        )
        if abs(mine - theirs) > 1e-9
    ]
    if not changed:
        return f"Recommended settings of {inline_code(model)}: {params_text(rec)}."
    return f"Changed from the recommended settings of {inline_code(model)}: " + "; ".join(changed) + "."


def slider_values(services: AppServices, model: str | None) -> Outputs:
    """Updates setting the sliders (and their note) to ``model``'s recommended settings."""
    rec = services.recommended_params(model)
    return (
        gr.update(value=rec.temperature),
        gr.update(value=rec.top_p),
        gr.update(value=rec.max_new_tokens),
        params_note(services, model, rec.temperature, rec.top_p, rec.max_new_tokens),
    )


def param_sliders(
    services: AppServices, prefix: str, model: str | None, label: str = "Parameters"
) -> ParamSliders:
    """Temperature, top p and max output tokens in a closed accordion (ids ``{prefix}-temperature`` ...),
    starting at ``model``'s recommended settings (the tab moves them when another model is chosen)."""
    rec = services.recommended_params(model)
    with gr.Accordion(label, open=False, elem_id=f"{prefix}-params"):
        # fine steps: a recommended value such as 0.33 must be shown, and sent, as it is
        temperature = gr.Slider(
            0.0, 2.0, value=rec.temperature, step=0.01, label="Temperature", elem_id=f"{prefix}-temperature"
        )
        top_p = gr.Slider(0.0, 1.0, value=rec.top_p, step=0.01, label="Top p", elem_id=f"{prefix}-top-p")
        max_tokens = gr.Slider(
            1,
            services.max_tokens_limit,
            value=rec.max_new_tokens,
            step=1,
            label="Max output tokens",
            elem_id=f"{prefix}-max-tokens",
        )
        note = gr.Markdown(
            params_note(services, model, rec.temperature, rec.top_p, rec.max_new_tokens),
            elem_id=f"{prefix}-params-note",
        )
    return ParamSliders(temperature, top_p, max_tokens, note)


def wire_param_note(services: AppServices, sliders: ParamSliders, model: gr.Dropdown) -> None:
    """Keep the note under the sliders true when the user moves one of them."""

    def update(name: str | None, temperature: float, top_p: float, tokens: float) -> str:
        return params_note(services, name, temperature, top_p, tokens)

    for slider in (sliders.temperature, sliders.top_p, sliders.max_tokens):
        slider.input(
            update,
            [model, *sliders.inputs()],
            [sliders.note],
            api_visibility="private",
            show_progress="hidden",
        )


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
        # displayable: a refused text goes back into the box, and must be JSON-encodable to get there
        yield render(state, notice=failure_notice(exc), input_value=displayable(keep_text) if first else None)
