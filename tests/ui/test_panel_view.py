"""The battle panel's cheap outputs (ui/panel_view.py): Gradio's wire form, and updates only where a prop
changes. The end-to-end behaviour (what the browser shows) is covered by tests/browser and tests/ui."""

from __future__ import annotations

import gradio as gr

from arena_app.ui.battle_common import BUTTON_LABELS
from arena_app.ui.common import chatbot, chatbot_value
from arena_app.ui.panel_view import NO_BATTLE, PanelEmitter, PanelView, wire_messages

SKIP = gr.skip()


def _view(buttons: tuple[bool, ...], input_value: str | None = None, status: str = "") -> PanelView:
    return PanelView(
        input_interactive=True,
        input_value=input_value,
        chat_a=[],
        chat_b=[],
        status=status,
        reveal="",
        buttons=buttons,
    )


IDLE = (True, False, False, False, False, False, False)  # send on; stop, regenerate, votes off
RUNNING = (False, True, False, False, False, False, False)
DONE = (True, False, True, True, True, True, True)


def test_wire_messages_are_what_gradio_postprocess_makes() -> None:
    with gr.Blocks():
        box = chatbot("A", "x-chat")
    messages = chatbot_value([("hi <b>", "**there**"), ("and", None)], note="(stopped)", pending=True)
    assert wire_messages(messages) == box.postprocess(messages).model_dump()
    # and Gradio's postprocess takes the wire form back unchanged (events that still postprocess)
    assert box.postprocess(wire_messages(messages)).model_dump() == wire_messages(messages)


def test_full_render_sends_every_prop() -> None:
    out = PanelEmitter(BUTTON_LABELS, None).emit(_view(IDLE, input_value=""), "state", final=True)
    assert out[0] == "state"
    assert out[1] == gr.update(value="", interactive=True)
    assert list(out[6:-1]) == [gr.update(interactive=on) for on in IDLE]
    assert out[-1] == NO_BATTLE  # the browser's saved battle token: none


def test_stream_sends_updates_only_for_changed_props() -> None:
    state = object()
    emitter = PanelEmitter(BUTTON_LABELS, _view(IDLE))
    first = emitter.emit(_view(RUNNING, input_value=""), state, final=False)
    assert first[0] is state
    assert first[1] == ""  # clears the box without rebuilding the component
    assert first[6:8] == (gr.update(interactive=False), gr.update(interactive=True))  # send, stop changed
    assert first[8:-1] == BUTTON_LABELS[2:]  # unchanged: the plain label
    middle = emitter.emit(_view(RUNNING, status="⏳"), state, final=False)
    assert middle[0] == SKIP  # the state object is the one already stored
    assert middle[1] == ""  # same as the last step: an empty diff, so typed text stays
    assert middle[6:-1] == BUTTON_LABELS
    last = emitter.emit(_view(DONE), state, final=True)
    # the last step is repeated in process_completed: the input gets no value, only its props
    assert last[1] == gr.update(interactive=True)
    assert last[6:-1] == tuple(gr.update(interactive=on) for on in DONE)  # every button changed
    assert first[-1] == middle[-1] == last[-1] == NO_BATTLE  # the saved token, a plain value


def test_new_state_object_is_sent_again() -> None:
    emitter = PanelEmitter(BUTTON_LABELS, _view(IDLE))
    emitter.emit(_view(IDLE), "old", final=False)
    assert emitter.emit(_view(IDLE), "new", final=True)[0] == "new"
