"""Arena (side-by-side): the user picks both models and the generation parameters; votes are 'named'."""

from __future__ import annotations

from collections.abc import Iterator

import gradio as gr

from arena_app.domain import BattleMode
from arena_app.services.app_services import AppServices
from arena_app.services.battle_state import BattleState
from arena_app.ui.battle_common import BattlePanel, build_panel, render, stream_updates, wire_common
from arena_app.ui.common import Outputs, identify, param_sliders

INTRO = """### 👥 Compare two models of your choice
Pick both models and the parameters, chat, and vote. Named votes are stored but not counted on the
anonymous leaderboard."""


def build_side_by_side_tab(services: AppServices) -> BattlePanel:
    service = services.named
    names = services.chat_model_names()
    with gr.Row():
        dropdown_a = gr.Dropdown(
            names, value=names[0] if names else None, label="Model A", elem_id="sbs-model-a", interactive=True
        )
        dropdown_b = gr.Dropdown(
            names,
            value=names[1] if len(names) > 1 else (names[0] if names else None),
            label="Model B",
            elem_id="sbs-model-b",
            interactive=True,
        )
    sliders = param_sliders(services, "sbs")
    panel = build_panel("sbs", INTRO, services.browser_secret())

    def send(
        text: str,
        state: BattleState | None,
        model_a: str,
        model_b: str,
        temperature: float,
        top_p: float,
        max_new_tokens: float,
        request: gr.Request,
    ) -> Iterator[Outputs]:
        state = state or service.new_state(BattleMode.NAMED)
        client = identify(services, request)
        params = services.user_params(temperature, top_p, int(max_new_tokens))

        def run() -> Iterator[BattleState]:
            return service.send(state, text, client, models=[model_a, model_b], params=[params, params])

        yield from stream_updates(service, state, run, text)

    def models_changed(state: BattleState | None) -> Outputs:
        # A battle compares fixed models: changing either one starts a new round.
        if state is not None:
            service.stop(state)
        return render(service, service.new_state(BattleMode.NAMED), notice="")

    inputs = [
        panel.input,
        panel.state,
        dropdown_a,
        dropdown_b,
        *sliders.inputs(),
    ]
    panel.send.click(send, inputs, panel.outputs(), api_name="sbs_send", show_progress="hidden")
    panel.input.submit(send, inputs, panel.outputs(), api_visibility="private", show_progress="hidden")
    for dropdown in (dropdown_a, dropdown_b):
        dropdown.input(models_changed, [panel.state], panel.outputs(), api_visibility="private")
    wire_common(panel, services, service, BattleMode.NAMED)
    return panel
