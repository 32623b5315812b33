"""Direct chat: one chosen model with adjustable parameters, plus feedback on the latest answer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import gradio as gr
from gradio.components import Component

from arena_app.domain import FeedbackKind, FinishReason
from arena_app.services.answers import sentence
from arena_app.services.app_services import AppServices
from arena_app.services.chat import ChatService, ChatState
from arena_app.ui.common import (
    Outputs,
    ParamSliders,
    button,
    chatbot,
    chatbot_value,
    drive_stream,
    failure_notice,
    identify,
    param_sliders,
    slider_values,
    wire_param_note,
)
from arena_app.ui.rendering import plain_markdown

FEEDBACK_BUTTONS = {
    FeedbackKind.UPVOTE: "👍 Upvote",
    FeedbackKind.DOWNVOTE: "👎 Downvote",
    FeedbackKind.FLAG: "⚠️ Flag",
}


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
        failed = plain_markdown(sentence(state.last.error or "The answer failed"))  # data, never markup
        return f"❌ {failed} Press Regenerate or Clear."
    return ""


def render(state: ChatState, notice: str | None = None, input_value: str | None = None) -> Outputs:
    """All outputs of the tab for ``state`` (see ChatPanel.outputs)."""
    has_answer = state.last is not None and state.last.message_id is not None and not state.generating
    failed = state.last is not None and state.last.finish_reason == FinishReason.ERROR
    return (
        state,
        gr.update() if input_value is None else gr.update(value=input_value),
        chatbot_value(state.transcript(), _note(state), state.generating),
        plain_markdown(notice) if notice is not None else _status(state),
        button(not state.generating and not failed),
        button(state.generating),
        button(bool(state.turns) and not state.generating),
        *[button(has_answer) for _ in FEEDBACK_BUTTONS],
    )


@dataclass
class ChatPanel:
    state: gr.State
    model: gr.Dropdown
    sliders: ParamSliders
    chatbot: gr.Chatbot
    status: gr.Markdown
    input: gr.Textbox
    send: gr.Button
    feedback: dict[FeedbackKind, gr.Button]
    stop: gr.Button
    regenerate: gr.Button
    clear: gr.Button

    def outputs(self) -> list[Component]:
        return [
            self.state,
            self.input,
            self.chatbot,
            self.status,
            self.send,
            self.stop,
            self.regenerate,
            *self.feedback.values(),
        ]


def build_panel(services: AppServices) -> ChatPanel:
    """Create the components (call inside a gr.Tab). elem_ids are documented in docs/ui.md."""
    names = services.chat_model_names()
    state = gr.State(None)
    gr.Markdown("### 💬 Chat with one model of your choice")
    model = gr.Dropdown(names, value=names[0] if names else None, label="Model", elem_id="chat-model")
    sliders = param_sliders(services, "chat", model.value)
    chat = chatbot("Chat", "chat-chatbot")
    status = gr.Markdown("", elem_id="chat-status")
    with gr.Row():
        textbox = gr.Textbox(
            show_label=False, placeholder="Type your message and press Enter", elem_id="chat-input", scale=6
        )
        send = gr.Button("Send", variant="primary", elem_id="chat-send", scale=1)
    with gr.Row():
        feedback = {
            kind: gr.Button(text, elem_id=f"chat-{kind}", interactive=False)
            for kind, text in FEEDBACK_BUTTONS.items()
        }
        stop = gr.Button("⏹ Stop", elem_id="chat-stop", interactive=False)
        regenerate = gr.Button("🔄 Regenerate", elem_id="chat-regenerate", interactive=False)
        clear = gr.Button("🗑️ Clear", elem_id="chat-clear")
    return ChatPanel(state, model, sliders, chat, status, textbox, send, feedback, stop, regenerate, clear)


def feedback_handler(
    services: AppServices, kind: FeedbackKind
) -> Callable[[ChatState | None, gr.Request], Outputs]:
    service = services.chat

    def handler(st: ChatState | None, request: gr.Request) -> Outputs:
        st = st or service.new_state()
        try:
            notice = "✅ " + service.feedback(st, kind, identify(services, request))
        except Exception as exc:  # see failure_notice: refusals, outages and bugs
            notice = failure_notice(exc)
        return render(st, notice=notice)

    handler.__name__ = f"chat_{kind}"
    return handler


def build_direct_chat_tab(services: AppServices) -> ChatPanel:
    service: ChatService = services.chat
    panel = build_panel(services)
    outputs = panel.outputs()

    def send_fn(
        text: str,
        st: ChatState | None,
        model: str,
        temperature: float,
        top_p: float,
        max_new_tokens: float,
        request: gr.Request,
    ) -> Iterator[Outputs]:
        st = st or service.new_state()
        client = identify(services, request)

        def run() -> Iterator[ChatState]:
            params = services.user_params(temperature, top_p, max_new_tokens, model)
            return service.send(st, text, model, params, client)

        yield from drive_stream(render, st, run, text)

    def regenerate_fn(st: ChatState | None) -> Iterator[Outputs]:
        st = st or service.new_state()
        yield from drive_stream(render, st, lambda: service.regenerate(st), "")

    def stop_fn(st: ChatState | None) -> str:
        return "⏹ Stopping…" if st is not None and service.stop(st) else "Nothing is running."

    def clear_fn(st: ChatState | None) -> Outputs:
        if st is not None:
            service.stop(st)
        return render(service.new_state(), input_value="")

    def model_changed_fn(st: ChatState | None) -> Outputs:
        # A new model starts a new conversation, but keeps what the user is typing: this response can
        # arrive after they started typing, and must not wipe their text.
        if st is not None:
            service.stop(st)
        return render(service.new_state())

    inputs = [panel.input, panel.state, panel.model, *panel.sliders.inputs()]
    panel.send.click(send_fn, inputs, outputs, api_name="chat_send", show_progress="hidden")
    panel.input.submit(send_fn, inputs, outputs, api_visibility="private", show_progress="hidden")
    panel.regenerate.click(
        regenerate_fn, [panel.state], outputs, api_name="chat_regenerate", show_progress="hidden"
    )
    panel.stop.click(stop_fn, [panel.state], [panel.status], api_name="chat_stop", concurrency_limit=None)
    panel.clear.click(clear_fn, [panel.state], outputs, api_name="chat_clear")
    panel.model.input(model_changed_fn, [panel.state], outputs, api_visibility="private")
    panel.model.input(
        lambda name: slider_values(services, name),
        [panel.model],
        panel.sliders.outputs(),
        api_visibility="private",
        show_progress="hidden",
    )
    wire_param_note(services, panel.sliders, panel.model)
    # the chatbot's own trash icon
    panel.chatbot.clear(clear_fn, [panel.state], outputs, api_visibility="private")
    for kind, btn in panel.feedback.items():
        btn.click(feedback_handler(services, kind), [panel.state], outputs, api_name=f"chat_{kind}")
    return panel
