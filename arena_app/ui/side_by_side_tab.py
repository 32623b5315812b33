"""Arena (side-by-side): the user picks both models and the generation parameters; votes are 'named'."""

from __future__ import annotations

from collections.abc import Iterator

import gradio as gr

from arena_app.domain import BattleMode
from arena_app.services.app_services import AppServices
from arena_app.services.battle_state import BattleState
from arena_app.ui.battle_common import BattlePanel, build_panel, render, stream_updates, wire_common
from arena_app.ui.common import Outputs, identify, param_sliders, slider_values, wire_param_note

INTRO = """### 👥 Compare two models of your choice
Pick both models and the parameters, chat, and vote. Named votes are stored but not counted on the
anonymous leaderboard."""


def build_side_by_side_tab(services: AppServices) -> tuple[BattlePanel, tuple[gr.Dropdown, gr.Dropdown]]:
    """The tab's panel and its two model pickers (a resumed battle sets them: ui/battle_resume.py)."""
    service = services.named
    gr.Markdown(INTRO)  # the heading above the model pickers it introduces
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
    with gr.Row():
        with gr.Column():
            sliders_a = param_sliders(services, "sbs-a", dropdown_a.value, "Parameters of model A")
        with gr.Column():
            sliders_b = param_sliders(services, "sbs-b", dropdown_b.value, "Parameters of model B")
    panel = build_panel("sbs", "", services.browser_secret())

    def send(
        text: str,
        state: BattleState | None,
        model_a: str,
        model_b: str,
        temperature_a: float,
        top_p_a: float,
        max_new_tokens_a: float,
        temperature_b: float,
        top_p_b: float,
        max_new_tokens_b: float,
        request: gr.Request,
    ) -> Iterator[Outputs]:
        state = state or service.new_state(BattleMode.NAMED)
        client = identify(services, request)

        def run() -> Iterator[BattleState]:
            # each side runs with its own sliders (set from its model's recommended settings)
            params = [
                services.user_params(temperature_a, top_p_a, max_new_tokens_a, model_a),
                services.user_params(temperature_b, top_p_b, max_new_tokens_b, model_b),
            ]
            return service.send(state, text, client, models=[model_a, model_b], params=params)

        yield from stream_updates(service, state, run, text)

    def models_changed(state: BattleState | None) -> Outputs:
        # A battle compares fixed models: changing either one starts a new round, and says so.
        notice = ""
        if state is not None:
            service.stop(state)
            if state.turns:
                notice = "ℹ️ You changed a model, so a new conversation started (the previous one is saved)."
        return render(service, service.new_state(BattleMode.NAMED), notice=notice)

    inputs = [
        panel.input,
        panel.state,
        dropdown_a,
        dropdown_b,
        *sliders_a.inputs(),
        *sliders_b.inputs(),
    ]
    # postprocess=False: the panel's outputs come in Gradio's wire form already (ui/panel_view.py)
    outputs = panel.outputs()
    panel.send.click(send, inputs, outputs, api_name="sbs_send", show_progress="hidden", postprocess=False)
    panel.input.submit(
        send, inputs, outputs, api_visibility="private", show_progress="hidden", postprocess=False
    )
    for dropdown, sliders in ((dropdown_a, sliders_a), (dropdown_b, sliders_b)):
        dropdown.input(models_changed, [panel.state], panel.outputs(), api_visibility="private")
        dropdown.input(
            lambda name: slider_values(services, name),
            [dropdown],
            sliders.outputs(),
            api_visibility="private",
            show_progress="hidden",
        )
        wire_param_note(services, sliders, dropdown)
    wire_common(panel, services, service, BattleMode.NAMED)
    return panel, (dropdown_a, dropdown_b)
