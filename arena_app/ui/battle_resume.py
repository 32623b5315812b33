"""Page load continues the browser's current battle: the signed token it keeps in ``gr.BrowserState``
names the battle, which any replica rebuilds from the database (:meth:`BattleService.resume`)."""

from __future__ import annotations

from collections.abc import Sequence

import gradio as gr

from arena_app.domain import BattleMode
from arena_app.services.app_services import AppServices
from arena_app.services.battle import BattleService
from arena_app.services.battle_state import BattleState
from arena_app.ui.battle_common import BattlePanel, render
from arena_app.ui.common import Outputs, failure_notice
from arena_app.ui.panel_view import NO_BATTLE
from arena_app.ui.shared_tab import share_link_handler


def wire_resume(
    demo: gr.Blocks,
    panel: BattlePanel,
    services: AppServices,
    service: BattleService,
    mode: BattleMode,
    models: Sequence[gr.Dropdown] = (),
) -> None:
    """On page load, continue the battle named by the browser's saved token (from the database, so on
    any replica; a voted one with its share link); a refused token (forged, foreign, expired) starts a
    fresh round and says why. ``models``: side-by-side's two model pickers, set to the battle's models
    (they are fixed for the battle; a picker left on another model would refuse the next message)."""
    # at the page's top level: mounted (and read from localStorage) at load (Block.render is untyped)
    panel.saved.render()  # type: ignore[no-untyped-call]
    outputs = panel.outputs()

    def resume(saved: object) -> Outputs:
        if not saved or saved == NO_BATTLE:
            return tuple(gr.skip() for _ in outputs)
        try:
            state = service.resume(str(saved), mode)
        except Exception as exc:  # see failure_notice: refusals, outages and bugs
            return render(service, service.new_state(mode), notice=failure_notice(exc))
        return render(service, state)

    def battle_models(state: BattleState | None) -> Outputs:
        if state is None or len(state.sides) != len(models):
            return tuple(gr.skip() for _ in models)
        return tuple(gr.update(value=side.model) for side in state.sides)

    loaded = demo.load(
        resume, [panel.saved], outputs, api_visibility="private", show_progress="hidden", postprocess=False
    )
    loaded.then(share_link_handler(services), [panel.state], [panel.share], api_visibility="private")
    if models:
        loaded.then(battle_models, [panel.state], list(models), api_visibility="private")
