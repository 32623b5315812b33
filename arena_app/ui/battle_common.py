"""Layout and handlers shared by the anonymous battle tab and the named side-by-side tab."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import gradio as gr
from gradio.components import Component

from arena_app.domain import VOTE_CHOICES, BattleMode, ExcludedReason, FinishReason, Outcome
from arena_app.services.answers import displayable, params_text
from arena_app.services.app_services import AppServices
from arena_app.services.battle import BattleService
from arena_app.services.battle_state import LABELS, BattleState
from arena_app.services.client_id import ClientIdentity
from arena_app.ui.common import (
    Outputs,
    Update,
    answer_note,
    chatbot,
    chatbot_value,
    failure_notice,
    identify,
)
from arena_app.ui.panel_view import NO_BATTLE, PanelEmitter, PanelView, wire_messages
from arena_app.ui.rendering import inline_code, plain_markdown
from arena_app.ui.shared_tab import share_link_handler

OUTCOME_LABELS = {
    Outcome.MODEL_A: "👈 A is better",
    Outcome.MODEL_B: "👉 B is better",
    Outcome.TIE: "🤝 Tie",
    Outcome.BOTHBAD: "👎 Both are bad",
}
#: (vote choice, button text), in button order; the choice names the button (``battle-vote-a``)
VOTES = tuple((choice, OUTCOME_LABELS[outcome]) for choice, outcome in VOTE_CHOICES.items())
SEND, STOP, REGENERATE = "Send", "⏹ Stop", "🔄 Regenerate"
#: the texts of the buttons in BattlePanel.outputs order (sent as their value when nothing else changes)
BUTTON_LABELS = (SEND, STOP, REGENERATE, *(text for _, text in VOTES))


@dataclass
class BattlePanel:
    prefix: str
    state: gr.State
    chat_a: gr.Chatbot
    chat_b: gr.Chatbot
    input: gr.Textbox
    send: gr.Button
    stop: gr.Button
    regenerate: gr.Button
    new_round: gr.Button
    votes: dict[str, gr.Button]
    reveal: gr.Markdown
    status: gr.Markdown
    share: gr.Markdown  # the share link, after a vote (see share_link_handler)
    saved: gr.BrowserState  # the signed resume token of the current battle, in the browser's localStorage

    def outputs(self) -> list[Component]:
        return [
            self.state,
            self.input,
            self.chat_a,
            self.chat_b,
            self.status,
            self.reveal,
            self.send,
            self.stop,
            self.regenerate,
            *self.votes.values(),
            self.saved,
        ]


def build_panel(prefix: str, intro: str, saved_secret: str) -> BattlePanel:
    """Create the components (call inside a gr.Tab). elem_ids are documented in docs/ui.md.
    ``saved_secret``: the BrowserState secret, the same on every replica (AppServices.browser_secret)."""
    state = gr.State(None)
    # a fixed storage key, so that a reload served by any replica finds the token; rendered outside the
    # tabs by ui/battle_resume.wire_resume (a component in a tab not yet opened is not mounted at load)
    saved = gr.BrowserState(
        NO_BATTLE, storage_key=f"arena-{prefix}-battle", secret=saved_secret, render=False
    )
    gr.Markdown(intro)
    with gr.Row():
        chat_a = chatbot(LABELS[0], f"{prefix}-chatbot-a")
        chat_b = chatbot(LABELS[1], f"{prefix}-chatbot-b")
    status = gr.Markdown("", elem_id=f"{prefix}-status")
    with gr.Row(elem_id=f"{prefix}-vote-bar", elem_classes="vote-bar"):
        votes = {
            key: gr.Button(text, elem_id=f"{prefix}-vote-{key}", interactive=False) for key, text in VOTES
        }
    reveal = gr.Markdown("", elem_id=f"{prefix}-reveal")
    share = gr.Markdown("", elem_id=f"{prefix}-share")
    with gr.Row():
        text = gr.Textbox(
            show_label=False,
            placeholder="Type your message and press Enter",
            elem_id=f"{prefix}-input",
            scale=6,
            lines=1,
            max_lines=8,
        )
        send = gr.Button(SEND, variant="primary", elem_id=f"{prefix}-send", scale=1)
    with gr.Row():
        stop = gr.Button(STOP, elem_id=f"{prefix}-stop", interactive=False)
        regenerate = gr.Button(REGENERATE, elem_id=f"{prefix}-regenerate", interactive=False)
        new_round = gr.Button("🎲 New round", elem_id=f"{prefix}-new-round")
    return BattlePanel(
        prefix,
        state,
        chat_a,
        chat_b,
        text,
        send,
        stop,
        regenerate,
        new_round,
        votes,
        reveal,
        status,
        share,
        saved,
    )


def status_text(state: BattleState) -> str:
    if state.voted:
        text = "✅ Thanks, your vote was recorded."
        if state.excluded_reason == ExcludedReason.IDENTITY_LEAK:
            text += (
                " ⚠️ Your vote will not count: an answer revealed a model's identity"
                " (it mentioned a model or organization name)."
            )
        return text + " Press “New round” to battle again."
    if state.generating:
        return "⏳ Generating…"
    failed = state.side_failed()
    if failed:
        return (
            "❌ "  # the sentences carry upstream error text: data, never markup
            + " ".join(plain_markdown(f) for f in failed)
            + " This round cannot be voted: press Regenerate or start a new round."
        )
    if not state.turns:
        return ""
    if any(s.last is not None and s.last.finish_reason == FinishReason.STOPPED for s in state.sides):
        return "⏹ Stopped. You can vote on what you see, regenerate, or keep chatting."
    return "Both answers are in. Vote, or keep chatting (the vote covers the whole conversation)."


def reveal_text(service: BattleService, state: BattleState) -> str:
    stats = service.reveal(state)
    if not stats:
        return ""
    lines = []
    for label, s, side in zip(LABELS, stats, state.sides, strict=True):
        ttft = f"{s.ttft_s:.2f} s" if s.ttft_s is not None else "n/a"
        # the parameters its last answer really ran with (what is stored with it), never a label's claim
        lines.append(
            f"**{label}:** {inline_code(s.model)} — time to first token {ttft} · "
            f"duration {s.duration_s:.2f} s · {s.tokens} tokens · ran with {params_text(side.params)}"
        )
    return "\n\n".join(lines)


def _side_note(state: BattleState, side: int) -> str | None:
    last = state.sides[side].last if side < len(state.sides) else None
    if last is None:
        return None
    if last.finish_reason == FinishReason.ERROR:
        return f"⚠️ {last.error or 'This answer failed.'}"
    if last.finish_reason == FinishReason.STOPPED:
        return "(stopped)"
    return answer_note(last.finish_reason, last.text)


def panel_view(
    service: BattleService, state: BattleState, notice: str | None = None, input_value: str | None = None
) -> PanelView:
    """What the panel shows for ``state`` (``notice`` replaces the status, ``input_value`` the text)."""
    can_vote = state.can_vote
    has_battle = state.battle_id is not None and bool(state.turns)
    return PanelView(
        input_interactive=not state.voted,
        input_value=input_value,
        chat_a=wire_messages(chatbot_value(state.transcript(0), _side_note(state, 0), state.generating)),
        chat_b=wire_messages(chatbot_value(state.transcript(1), _side_note(state, 1), state.generating)),
        # what gr.Markdown's postprocess would do (the panel's events skip Gradio's postprocess)
        status=inspect.cleandoc(plain_markdown(notice) if notice is not None else status_text(state)),
        reveal=inspect.cleandoc(reveal_text(service, state)),
        buttons=(
            not state.voted and not state.generating and not state.side_failed(),
            state.generating,
            has_battle and not state.voted and not state.generating,
            *[can_vote for _ in VOTES],
        ),
        saved=state.resume_token or NO_BATTLE,  # a new round forgets the finished battle
    )


def render(
    service: BattleService, state: BattleState, notice: str | None = None, input_value: str | None = None
) -> Outputs:
    """All panel outputs for ``state`` (see BattlePanel.outputs), every component's props included: for
    an event that does not know what the browser shows. Valid with and without Gradio's postprocess."""
    return PanelEmitter(BUTTON_LABELS, None).emit(
        panel_view(service, state, notice, input_value), state, final=True
    )


def stream_updates(
    service: BattleService, state: BattleState, run: Callable[[], Iterator[BattleState]], keep_text: str
) -> Iterator[Outputs]:
    """Drive a battle service generator into panel updates: the first step clears the input box, an
    error becomes a status message (:func:`failure_notice`; before anything was sent the user's text
    stays in the box). Only what changed against the view before the event is sent as an update."""
    emitter = PanelEmitter(BUTTON_LABELS, panel_view(service, state))
    first = True
    try:
        for current in run():
            view = panel_view(service, current, input_value="" if first else None)
            yield emitter.emit(view, current, final=not current.generating)
            first = False
    except Exception as exc:  # every error becomes status text; bugs are logged by failure_notice
        # a full render (rare): every prop, in the same form API clients always got for a refusal;
        # displayable: the refused text goes back into the box, and must be JSON-encodable to get there
        yield render(service, state, failure_notice(exc), displayable(keep_text) if first else None)


def vote_handler(
    service: BattleService,
    choice: str,
    client_of: Callable[[gr.Request], ClientIdentity],
) -> Callable[[BattleState | None, gr.Request], Outputs]:
    def vote(state: BattleState | None, request: gr.Request) -> Outputs:
        state = state or service.new_state()
        try:
            before = panel_view(service, state)
            service.vote(state, choice, client_of(request))
        except Exception as exc:  # see failure_notice: refusals, outages and bugs
            return render(service, state, notice=failure_notice(exc))
        return PanelEmitter(BUTTON_LABELS, before).emit(panel_view(service, state), state, final=True)

    vote.__name__ = f"vote_{choice}"
    return vote


def wire_common(panel: BattlePanel, services: AppServices, service: BattleService, mode: BattleMode) -> None:
    """Events that are the same in both modes: stop, regenerate, new round, the four votes."""
    prefix = panel.prefix
    outputs = panel.outputs()

    def stop(state: BattleState | None) -> str | Update:
        if state is not None and service.stop(state):
            return "⏹ Stopping…"
        # Stop pressed just as the answers finished: keep what the status already says
        return gr.update()

    def regenerate(state: BattleState | None) -> Iterator[Outputs]:
        state = state or service.new_state(mode)
        yield from stream_updates(service, state, lambda: service.regenerate(state), "")

    def new_round(state: BattleState | None) -> Outputs:
        # the browser shows the old state's view unless a generation was still running (its last
        # update may still be on its way): then every prop is sent
        before = None if state is None or state.generating else panel_view(service, state)
        if state is not None:
            service.stop(state)
        fresh = service.new_state(mode)
        return PanelEmitter(BUTTON_LABELS, before).emit(
            panel_view(service, fresh, input_value=""), fresh, final=True
        )

    panel.stop.click(stop, [panel.state], [panel.status], api_name=f"{prefix}_stop", concurrency_limit=None)
    panel.regenerate.click(
        regenerate,
        [panel.state],
        outputs,
        api_name=f"{prefix}_regenerate",
        show_progress="hidden",
        postprocess=False,
    )
    panel.new_round.click(
        new_round, [panel.state], outputs, api_name=f"{prefix}_new_round", postprocess=False
    )
    # The chatbots' own trash icon clears the browser copy only; treat it as "New round" so the
    # server-side state never disagrees with what the user sees.
    for chat in (panel.chat_a, panel.chat_b):
        chat.clear(new_round, [panel.state], outputs, api_visibility="private", postprocess=False)
    for key, btn in panel.votes.items():
        btn.click(
            vote_handler(service, key, lambda r: identify(services, r)),
            [panel.state],
            outputs,
            api_name=f"{prefix}_vote_{key}",
            concurrency_limit=None,
            postprocess=False,
        ).then(share_link_handler(services), [panel.state], [panel.share], api_visibility="private")
    for event in (panel.new_round.click, panel.chat_a.clear, panel.chat_b.clear):
        event(lambda: "", None, [panel.share], api_visibility="private")
