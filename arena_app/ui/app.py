"""``build_app(services) -> gr.Blocks``: the arena web app, one module per tab.

Per-user state lives in ``gr.State`` (server side); handlers are plain functions calling the services.
Internal events are ``api_visibility="private"``; the public API is listed in docs/ui.md.
"""

from __future__ import annotations

from typing import Literal, TypedDict

import gradio as gr
from starlette.middleware import Middleware

from arena_app.services.app_services import AppServices
from arena_app.settings import ArenaSettings
from arena_app.ui.about_tab import build_about_tab
from arena_app.ui.battle_tab import build_battle_tab
from arena_app.ui.direct_chat_tab import build_direct_chat_tab
from arena_app.ui.http_guard import RequestGuard, body_cap
from arena_app.ui.leaderboard_tab import build_leaderboard_tab
from arena_app.ui.side_by_side_tab import build_side_by_side_tab

TITLE = "LLM Arena"
CSS = """
.lb-table { width: 100%; border-collapse: collapse; }
.lb-table th, .lb-table td { padding: 4px 8px; border-bottom: 1px solid var(--border-color-primary); }
.lb-preliminary { color: var(--body-text-color-subdued); font-size: 0.85em; }
"""


def build_app(services: AppServices) -> gr.Blocks:
    # no tab takes files; whatever Gradio caches anyway is deleted hourly once an hour old
    demo = gr.Blocks(title=TITLE, delete_cache=(3600, 3600))
    with demo:
        gr.Markdown(f"# ⚔️ {TITLE}")
        with gr.Tabs():
            with gr.Tab("Arena (battle)", elem_id="tab-battle"):
                build_battle_tab(services)
            with gr.Tab("Arena (side-by-side)", elem_id="tab-sbs"):
                build_side_by_side_tab(services)
            with gr.Tab("Direct chat", elem_id="tab-chat"):
                build_direct_chat_tab(services)
            with gr.Tab("Leaderboard", elem_id="tab-leaderboard"):
                view_fn, inputs, outputs = build_leaderboard_tab(services)
            with gr.Tab("About", elem_id="tab-about"):
                build_about_tab()
        # Reads the latest stored snapshot (cheap); never fits.
        demo.load(view_fn, inputs, outputs, api_visibility="private")
    return demo


class LaunchOptions(TypedDict):
    css: str
    ssr_mode: bool
    footer_links: list[Literal["api", "gradio", "settings", "runs"] | dict[str, str]]
    run_history: bool
    enable_monitoring: bool
    max_file_size: str


#: keyword arguments for ``demo.launch`` (Gradio 6: css belongs to launch; SSR needs Node, so it is off;
#: run history would store conversations in the browser, so it is off too; the monitoring dashboard
#: would show per-event counts and latencies to anyone; uploads are refused by the request guard, and
#: capped here too).
LAUNCH_KWARGS: LaunchOptions = {
    "css": CSS,
    "ssr_mode": False,
    "footer_links": ["api", "gradio"],
    "run_history": False,
    "enable_monitoring": False,
    "max_file_size": "1kb",
}


class GuardedLaunchOptions(LaunchOptions):
    app_kwargs: dict[str, list[Middleware]]


def launch_kwargs(demo: gr.Blocks, settings: ArenaSettings) -> GuardedLaunchOptions:
    """Everything ``demo.launch`` needs besides the address: :data:`LAUNCH_KWARGS` and the request guard
    (:mod:`arena_app.ui.http_guard`) as middleware of Gradio's FastAPI app, with the body cap derived
    from ``max_input_chars``."""
    guard = Middleware(
        RequestGuard,
        max_body_bytes=body_cap(settings.max_input_chars),
        known_fn=lambda index: index in demo.fns,
        known_api=lambda name: any(fn.api_name == name for fn in demo.fns.values()),
    )
    return {**LAUNCH_KWARGS, "app_kwargs": {"middleware": [guard]}}
