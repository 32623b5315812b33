"""``build_app(services) -> gr.Blocks``: the arena web app, one module per tab.

Per-user state lives in ``gr.State`` (server side); handlers are plain functions calling the services.
Internal events are ``api_visibility="private"``; the public API is listed in docs/ui.md.
"""

from __future__ import annotations

from typing import Literal, TypedDict

import gradio as gr

from arena_app.domain import BattleMode
from arena_app.services.app_services import AppServices
from arena_app.ui.about_tab import build_about_tab
from arena_app.ui.battle_common import wire_resume
from arena_app.ui.battle_tab import build_battle_tab
from arena_app.ui.direct_chat_tab import build_direct_chat_tab
from arena_app.ui.leaderboard_tab import build_leaderboard_tab
from arena_app.ui.side_by_side_tab import build_side_by_side_tab

TITLE = "LLM Arena"
CSS = """
.lb-table { width: 100%; border-collapse: collapse; }
.lb-table th, .lb-table td { padding: 4px 8px; border-bottom: 1px solid var(--border-color-primary); }
.lb-preliminary { color: var(--body-text-color-subdued); font-size: 0.85em; }
"""


def build_app(services: AppServices) -> gr.Blocks:
    demo = gr.Blocks(title=TITLE)
    with demo:
        gr.Markdown(f"# ⚔️ {TITLE}")
        with gr.Tabs():
            with gr.Tab("Arena (battle)", elem_id="tab-battle"):
                battle_panel = build_battle_tab(services)
            with gr.Tab("Arena (side-by-side)", elem_id="tab-sbs"):
                sbs_panel = build_side_by_side_tab(services)
            with gr.Tab("Direct chat", elem_id="tab-chat"):
                build_direct_chat_tab(services)
            with gr.Tab("Leaderboard", elem_id="tab-leaderboard"):
                view_fn, inputs, outputs = build_leaderboard_tab(services)
            with gr.Tab("About", elem_id="tab-about"):
                build_about_tab()
        # Reads the latest stored snapshot (cheap); never fits.
        demo.load(view_fn, inputs, outputs, api_visibility="private")
        # a reload continues the browser's current battles (state from the database, on any replica)
        wire_resume(demo, battle_panel, services.battle, BattleMode.ANONY)
        wire_resume(demo, sbs_panel, services.named, BattleMode.NAMED)
    return demo


class LaunchOptions(TypedDict):
    css: str
    ssr_mode: bool
    footer_links: list[Literal["api", "gradio", "settings", "runs"] | dict[str, str]]
    run_history: bool


#: keyword arguments for ``demo.launch`` (Gradio 6: css belongs to launch; SSR needs Node, so it is off;
#: run history would store conversations in the browser, so it is off too).
LAUNCH_KWARGS: LaunchOptions = {
    "css": CSS,
    "ssr_mode": False,
    "footer_links": ["api", "gradio"],
    "run_history": False,
}
