"""The battle panel's outputs, built so that Gradio does as little work per update as possible.

Measured with py-spy through ``bench/load.py`` (bench/README.md): Gradio 6.31 turns every ``gr.update(...)``
(``gr.skip()`` included) into a new component instance (~0.5-0.8 ms: the constructor inspects its own
signature) plus two config rebuilds, and with ``postprocess=True`` moves each plain output to a worker
thread to postprocess it. A streamed answer used to send 8 updates per step. So the panel's events run with
``postprocess=False`` and get values here that are already in Gradio's wire form, and an update is sent
only for a component whose interactivity differs from what the browser already shows:

- :class:`PanelView` is everything the panel shows for a state (pure data; :func:`panel_view`);
- :class:`PanelEmitter` turns a sequence of views into output tuples for one event, given the view the
  browser had when the event started (``before``; None: unknown, so everything is sent as an update).

Unchanged plain values cost nothing to send: a streaming event's later steps reach the browser as diffs
against the previous step. The input box is the one exception: its text must never be sent again after the
user may have typed (the last step of a stream is repeated in ``process_completed``), so "leave its text"
is an update without a value.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from arena_app.ui.common import Outputs, Update

#: what the browser keeps when there is no battle to come back to (Gradio's BrowserState stores no falsy
#: value, so an empty string would leave the previous token in place)
NO_BATTLE = "-"
#: a message in the wire form of gr.Chatbot (what ``Chatbot.postprocess(...).model_dump()`` gives)
WireMessage = dict[str, object]


def wire_messages(messages: list[dict[str, str]]) -> list[WireMessage]:
    """``[{"role", "content": html}]`` -> gr.Chatbot's serialised messages (tests compare them with
    Gradio's own postprocess, so a Gradio upgrade that changes the form fails a test)."""
    return [
        {
            "role": m["role"],
            "metadata": None,
            "content": [{"text": m["content"], "type": "text"}],
            "options": None,
        }
        for m in messages
    ]


@dataclass(frozen=True)
class PanelView:
    """What the battle panel shows. ``buttons``: interactivity of send, stop, regenerate and the votes, in
    :meth:`~arena_app.ui.battle_common.BattlePanel.outputs` order; ``input_value`` None leaves the text."""

    input_interactive: bool
    input_value: str | None
    chat_a: list[WireMessage]
    chat_b: list[WireMessage]
    status: str
    reveal: str
    buttons: tuple[bool, ...]
    saved: str = NO_BATTLE  # the battle's resume token for the browser's BrowserState


class PanelEmitter:
    """Output tuples for one event of the panel (state, input, chats, status, reveal, buttons...).

    ``before``: the view the browser showed when the event started (None: not known, send every prop).
    ``labels``: the buttons' texts, sent as their plain value when only their value is due.
    """

    def __init__(self, labels: tuple[str, ...], before: PanelView | None) -> None:
        self._labels = labels
        self._known = before
        self._state_sent: object = None
        self._input_out: object = None  # what this event last sent for the input box

    def emit(self, view: PanelView, state: object, *, final: bool) -> Outputs:
        """The outputs for ``view``; ``final``: the event's last step (repeated in process_completed)."""
        known = self._known
        state_out: object = state if state is not self._state_sent else gr.skip()
        self._state_sent = state
        buttons = [
            gr.update(interactive=on)
            if known is None or known.buttons[i] != on
            else self._labels[i]  # only the value: no component is rebuilt
            for i, on in enumerate(view.buttons)
        ]
        outputs = (
            state_out,
            self._input(view, known, final),
            view.chat_a,
            view.chat_b,
            view.status,
            view.reveal,
            *buttons,
            view.saved,  # a plain value: unchanged, it costs nothing after the first step
        )
        self._known = view
        return outputs

    def _input(self, view: PanelView, known: PanelView | None, final: bool) -> object:
        if known is None or known.input_interactive != view.input_interactive:
            out: object = _input_update(view)
        elif view.input_value is not None:
            out = view.input_value  # sets the text (clearing it after a send)
        elif not final and self._input_out is not None:
            out = self._input_out  # the same as the last step: an empty diff, the typed text stays
        else:
            out = gr.update(interactive=view.input_interactive)
        self._input_out = out
        return out


def _input_update(view: PanelView) -> Update:
    if view.input_value is None:
        return gr.update(interactive=view.input_interactive)
    return gr.update(value=view.input_value, interactive=view.input_interactive)
