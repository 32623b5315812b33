"""Shared battle: the read-only page a share link opens (``?share=<token>``; see
:mod:`arena_app.services.share`). Hidden until such a link is opened."""

from __future__ import annotations

import html

import gradio as gr

from arena_app.domain import BattleMode, Outcome
from arena_app.services.app_services import AppServices
from arena_app.services.errors import NotFound
from arena_app.ui.common import failure_notice
from arena_app.ui.rendering import render_markdown

VERDICT = {
    Outcome.MODEL_A: "the voter preferred model A",
    Outcome.MODEL_B: "the voter preferred model B",
    Outcome.TIE: "the voter called it a tie",
    Outcome.BOTHBAD: "the voter found both answers bad",
}


def shared_html(services: AppServices, token: str) -> str:
    """The shared battle as safe HTML (every text rendered by :func:`render_markdown`), or why not."""
    if services.share is None:
        return f"<p>{html.escape(NOT_AVAILABLE)}</p>"
    try:
        shared = services.share.open(token)
    except NotFound as exc:
        return f'<p id="shared-missing">⚠️ {html.escape(str(exc))}</p>'
    except Exception as exc:  # outages and bugs: see failure_notice
        return f"<p>{html.escape(failure_notice(exc))}</p>"
    a, b = (html.escape(m) for m in shared.models)
    mode = "anonymous battle" if shared.mode == BattleMode.ANONY else "side-by-side comparison"
    when = shared.voted_at.strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        f'<p class="shared-head">A {mode} between <strong>Model A: {a}</strong> and '
        f"<strong>Model B: {b}</strong>; {VERDICT[shared.outcome]} ({when}).</p>"
    ]
    for user, answers in shared.turns:
        parts.append(f'<div class="shared-user"><strong>User</strong>{render_markdown(user)}</div>')
        cells = "".join(
            f'<div class="shared-answer"><strong>Model {label}: {name}</strong>'
            f"{render_markdown(answer) or '<p><em>(no answer)</em></p>'}</div>"
            for label, name, answer in zip(("A", "B"), (a, b), answers, strict=True)
        )
        parts.append(f'<div class="shared-answers">{cells}</div>')
    return "\n".join(parts)


NOT_AVAILABLE = "Share links are not available on this arena."


def build_shared_tab() -> gr.HTML:
    """The tab's one component (filled on page load from the link's token)."""
    gr.Markdown("### 🔗 A shared battle\nRead only. Start your own in the **Arena (battle)** tab.")
    return gr.HTML("", elem_id="shared-battle")
