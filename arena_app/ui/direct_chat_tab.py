"""Direct chat: one chosen model with adjustable parameters, plus feedback on the latest answer."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import gradio as gr

from arena_app.domain import FeedbackKind, FinishReason
from arena_app.services.answers import sentence
from arena_app.services.app_services import AppServices
from arena_app.services.chat import ChatService, ChatState
from arena_app.ui.common import (
    CHATBOT_KWARGS,
    button,
    chatbot_value,
    drive_stream,
    failure_notice,
    identify,
    param_sliders,
)


def _note(state: ChatState) -> str | None:
    if state.last is None or state.generating:
        return None
    if state.last.finish_reason == FinishReason.ERROR:
        return f"⚠️ {state.last.error or 'The answer failed.'}"
    if state.last.finish_reason == FinishReason.STOPPED:
        return "(stopped)"
    return None


def _status(state: ChatState) -> str:
    if state.generating:
        return "⏳ Generating…"
    if state.last is not None and state.last.finish_reason == FinishReason.ERROR:
        return f"❌ {sentence(state.last.error or 'The answer failed')} Press Regenerate or Clear."
    return ""


def render(
    service: ChatService, state: ChatState, notice: str | None = None, input_value: Any = None
) -> tuple:
    has_answer = state.last is not None and state.last.message_id is not None and not state.generating
    failed = state.last is not None and state.last.finish_reason == FinishReason.ERROR
    return (
        state,
        gr.update() if input_value is None else gr.update(value=input_value),
        chatbot_value(state.transcript(), _note(state), state.generating),
        notice if notice is not None else _status(state),
        button(not state.generating and not failed),
        button(state.generating),
        button(bool(state.turns) and not state.generating),
        button(has_answer),
        button(has_answer),
        button(has_answer),
    )


def build_direct_chat_tab(services: AppServices) -> None:
    service = services.chat
    names = services.chat_model_names()
    state = gr.State(None)
    gr.Markdown("### 💬 Chat with one model of your choice")
    model_dropdown = gr.Dropdown(
        names, value=names[0] if names else None, label="Model", elem_id="chat-model"
    )
    sliders = param_sliders(services, "chat")
    chatbot = gr.Chatbot(label="Chat", elem_id="chat-chatbot", **CHATBOT_KWARGS)
    status = gr.Markdown("", elem_id="chat-status")
    with gr.Row():
        textbox = gr.Textbox(
            show_label=False, placeholder="Type your message and press Enter", elem_id="chat-input", scale=6
        )
        send = gr.Button("Send", variant="primary", elem_id="chat-send", scale=1)
    with gr.Row():
        upvote = gr.Button("👍 Upvote", elem_id="chat-upvote", interactive=False)
        downvote = gr.Button("👎 Downvote", elem_id="chat-downvote", interactive=False)
        flag = gr.Button("⚠️ Flag", elem_id="chat-flag", interactive=False)
        stop = gr.Button("⏹ Stop", elem_id="chat-stop", interactive=False)
        regenerate = gr.Button("🔄 Regenerate", elem_id="chat-regenerate", interactive=False)
        clear = gr.Button("🗑️ Clear", elem_id="chat-clear")
    outputs = [state, textbox, chatbot, status, send, stop, regenerate, upvote, downvote, flag]

    def drive(st: ChatState, run: Any, keep_text: str) -> Iterator[tuple]:
        return drive_stream(partial(render, service), st, run, keep_text)

    def send_fn(
        text: str,
        st: ChatState | None,
        model: str,
        temperature: float,
        top_p: float,
        max_new_tokens: float,
        request: gr.Request,
    ) -> Iterator[tuple]:
        st = st or service.new_state()
        client = identify(services, request)
        params = services.user_params(temperature, top_p, int(max_new_tokens))
        yield from drive(st, lambda: service.send(st, text, model, params, client), text)

    def regenerate_fn(st: ChatState | None) -> Iterator[tuple]:
        st = st or service.new_state()
        yield from drive(st, lambda: service.regenerate(st), "")

    def stop_fn(st: ChatState | None) -> str:
        return "⏹ Stopping…" if st is not None and service.stop(st) else "Nothing is running."

    def clear_fn(st: ChatState | None) -> tuple:
        if st is not None:
            service.stop(st)
        return render(service, service.new_state(), input_value="")

    def model_changed_fn(st: ChatState | None) -> tuple:
        # A new model starts a new conversation, but keeps what the user is typing: this response can
        # arrive after they started typing, and must not wipe their text.
        if st is not None:
            service.stop(st)
        return render(service, service.new_state())

    def feedback_fn(kind: FeedbackKind) -> Any:
        def handler(st: ChatState | None, request: gr.Request) -> tuple:
            st = st or service.new_state()
            try:
                notice = "✅ " + service.feedback(st, kind, identify(services, request))
            except Exception as exc:  # see failure_notice: refusals, outages and bugs
                notice = failure_notice(exc)
            return render(service, st, notice=notice)

        handler.__name__ = f"chat_{kind}"
        return handler

    inputs = [textbox, state, model_dropdown, *sliders.inputs()]
    send.click(send_fn, inputs, outputs, api_name="chat_send", show_progress="hidden")
    textbox.submit(send_fn, inputs, outputs, api_visibility="private", show_progress="hidden")
    regenerate.click(regenerate_fn, [state], outputs, api_name="chat_regenerate", show_progress="hidden")
    stop.click(stop_fn, [state], [status], api_name="chat_stop", concurrency_limit=None)
    clear.click(clear_fn, [state], outputs, api_name="chat_clear")
    model_dropdown.input(model_changed_fn, [state], outputs, api_visibility="private")
    chatbot.clear(clear_fn, [state], outputs, api_visibility="private")  # the chatbot's own trash icon
    for kind, btn in (
        (FeedbackKind.UPVOTE, upvote),
        (FeedbackKind.DOWNVOTE, downvote),
        (FeedbackKind.FLAG, flag),
    ):
        btn.click(feedback_fn(kind), [state], outputs, api_name=f"chat_{kind}")
