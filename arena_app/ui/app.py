"""``build_app(services) -> gr.Blocks``: the arena web app, one module per tab.

Per-user state lives in ``gr.State`` (server side); handlers are plain functions calling the services.
Internal events are ``api_visibility="private"``; the public API is listed in docs/ui.md.
"""

from __future__ import annotations

from typing import Literal, TypedDict

import gradio as gr
from starlette.middleware import Middleware

from arena_app.domain import BattleMode
from arena_app.services.app_services import AppServices
from arena_app.settings import ArenaSettings
from arena_app.ui.about_tab import build_about_tab
from arena_app.ui.battle_resume import wire_resume
from arena_app.ui.battle_tab import build_battle_tab
from arena_app.ui.common import Outputs, slider_values
from arena_app.ui.deep_links import INITIAL_QUERY_JS, follow_tab_js, parse_query, resolve
from arena_app.ui.direct_chat_tab import ChatPanel, build_direct_chat_tab
from arena_app.ui.http_guard import RequestGuard, body_cap
from arena_app.ui.leaderboard_more import build_model_page
from arena_app.ui.leaderboard_tab import build_leaderboard_tab
from arena_app.ui.page_assets import CSS, HEAD
from arena_app.ui.shared_tab import build_shared_tab, shared_html
from arena_app.ui.side_by_side_tab import build_side_by_side_tab

TITLE = "LLM Arena"


def build_app(services: AppServices) -> gr.Blocks:
    # no tab takes files; whatever Gradio caches anyway is deleted hourly once an hour old
    demo = gr.Blocks(title=TITLE, delete_cache=(3600, 3600))
    with demo:
        gr.Markdown(f"# ⚔️ {TITLE}")
        tabs: dict[str, gr.Tab] = {}
        with gr.Tabs(elem_id="main-tabs") as tab_set:
            with gr.Tab("Arena (battle)", id="battle", elem_id="tab-battle") as tabs["battle"]:
                battle_panel, terms = build_battle_tab(services)
            with gr.Tab("Arena (side-by-side)", id="sbs", elem_id="tab-sbs") as tabs["sbs"]:
                sbs_panel, sbs_models = build_side_by_side_tab(services)
            with gr.Tab("Direct chat", id="chat", elem_id="tab-chat") as tabs["chat"]:
                chat = build_direct_chat_tab(services)
            with gr.Tab("Leaderboard", id="leaderboard", elem_id="tab-leaderboard") as tabs["leaderboard"]:
                view_fn, inputs, outputs = build_leaderboard_tab(services)
                category = inputs[1]
                assert isinstance(category, gr.Dropdown)  # the tab's category picker
                model_page = build_model_page(services, category)
            with gr.Tab("About", id="about", elem_id="tab-about") as tabs["about"]:
                build_about_tab()
            with gr.Tab("Shared battle", id="shared", elem_id="tab-shared", visible=False) as shared_tab:
                shared = build_shared_tab()
        # Reads the latest stored snapshot (cheap); never fits.
        demo.load(view_fn, inputs, outputs, api_visibility="private")
        model_page.wire_load(demo)
        wire_deep_links(services, demo, tab_set, tabs, shared_tab, shared, chat)
        if terms is not None:
            terms.wire_load(demo)
        # a reload continues the browser's current battles (state from the database, on any replica)
        wire_resume(demo, battle_panel, services, services.battle, BattleMode.ANONY)
        wire_resume(demo, sbs_panel, services, services.named, BattleMode.NAMED, sbs_models)
    return demo


def wire_deep_links(
    services: AppServices,
    demo: gr.Blocks,
    tab_set: gr.Tabs,
    tabs: dict[str, gr.Tab],
    shared_tab: gr.Tab,
    shared: gr.HTML,
    chat: ChatPanel,
) -> None:
    """Open the tab the address asks for (:mod:`deep_links`), and keep the address in step with the tab."""
    names = services.chat_model_names()

    def open_link(search: str) -> Outputs:
        link = resolve(parse_query(search))
        keep = gr.update()
        if link.tab == "shared":
            html_text = shared_html(services, link.share or "")
            return (gr.Tabs(selected="shared"), gr.Tab(visible=True), html_text, keep, keep, keep, keep, keep)
        # no tab asked for: leave the tabs alone (a visitor may already have clicked one)
        select = gr.Tabs(selected=link.tab) if link.asked else keep
        chosen = link.model if link.model in names else None
        if chosen is None:
            return (select, keep, keep, keep, keep, keep, keep, keep)
        return (select, keep, keep, gr.update(value=chosen), *slider_values(services, chosen))

    # The address as the page was opened (captured by HEAD before any tab event rewrote it).
    search = gr.Textbox(visible=False)
    demo.load(
        open_link,
        [search],
        [tab_set, shared_tab, shared, chat.model, *chat.sliders.outputs()],
        js=INITIAL_QUERY_JS,
        api_visibility="private",
        show_progress="hidden",
    )
    for tab_id, tab in tabs.items():
        tab.select(None, None, None, js=follow_tab_js(tab_id), api_visibility="private")


class LaunchOptions(TypedDict):
    css: str
    head: str
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
    "head": HEAD,
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
