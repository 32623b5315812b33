"""Arena (battle): two anonymous models, names revealed only after the vote."""

from __future__ import annotations

from collections.abc import Iterator

import gradio as gr

from arena_app.domain import BattleMode
from arena_app.services.app_services import AppServices
from arena_app.services.battle_state import BattleState
from arena_app.ui.battle_common import BattlePanel, build_panel, stream_updates, wire_common
from arena_app.ui.battle_extras import (
    TermsGate,
    add_descriptions,
    add_examples,
    terms_box,
    wire_accept,
)
from arena_app.ui.common import Outputs, identify

INTRO = """### ⚔️ Chat with two anonymous models side by side and vote for the better one
Ask anything; both models answer at the same time. Keep chatting as long as you like, then vote: the names
are revealed after your vote. Votes are counted on the leaderboard unless an answer reveals its identity."""


def build_battle_tab(services: AppServices) -> tuple[BattlePanel, TermsGate | None]:
    """The tab; returns its panel (for resuming) and its terms-of-use gate (None without terms)."""
    service = services.battle
    terms = terms_box(services, "battle")
    with gr.Column(visible=terms is None, elem_id="battle-gated") as gated:
        panel = build_panel("battle", INTRO, services.browser_secret())
        add_examples(services, panel)
        add_descriptions(services, "battle")

    def send(text: str, state: BattleState | None, request: gr.Request) -> Iterator[Outputs]:
        state = state or service.new_state(BattleMode.ANONY)
        client = identify(services, request)
        yield from stream_updates(service, state, lambda: service.send(state, text, client), text)

    # postprocess=False: the panel's outputs come in Gradio's wire form already (ui/panel_view.py)
    inputs, outputs = [panel.input, panel.state], panel.outputs()
    panel.send.click(send, inputs, outputs, api_name="battle_send", show_progress="hidden", postprocess=False)
    panel.input.submit(
        send, inputs, outputs, api_visibility="private", show_progress="hidden", postprocess=False
    )
    wire_common(panel, services, service, BattleMode.ANONY)
    return panel, (wire_accept(terms, gated) if terms is not None else None)
