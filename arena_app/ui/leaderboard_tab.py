"""Leaderboard: the latest stored snapshot (never fits on page load), table + four charts."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import gradio as gr
from gradio.components import Component
from gradio.components.plot import PlotData

from arena_app.services.app_services import AppServices
from arena_app.services.catalogue import ModelCard
from arena_app.ui.common import Outputs, failure_notice

if TYPE_CHECKING:
    from arena_app.services.leaderboard_view import LeaderboardRow, LeaderboardView

ViewFn = Callable[[bool, str], Outputs]

# figure key in LeaderboardView.figures -> elem_id of its gr.Plot
PLOTS = {
    "ratings": ("lb-plot-ci", "Ratings with 95% confidence intervals"),
    "win_fraction": ("lb-plot-winrate", "Fraction of model A wins, per pair"),
    "battle_count": ("lb-plot-battle-count", "Battle count per pair"),
    "average_win_rate": ("lb-plot-avg-winrate", "Average win rate against all other models"),
}
COLUMNS = ("Rank (UB)", "Model", "Arena score", "95% CI", "Votes", "Online Elo", "Organization", "License")


def _cell(text: str) -> str:
    return f"<td>{html.escape(text)}</td>"


def _model_cell(
    card: ModelCard | None, name: str, preliminary: bool, unrankable: bool
) -> tuple[str, str, str]:
    """(html cell, organization, license) for a model, using the endpoint file's metadata if present."""
    org = lic = link = ""
    # the model may have left the endpoint file since the snapshot: then there is no metadata
    if card is not None:
        org, lic, link = card.organization or "", card.license or "", card.link or ""
    label = html.escape(name)
    if link.startswith(("http://", "https://")):
        label = (
            f'<a href="{html.escape(link, quote=True)}" target="_blank" rel="noopener noreferrer">{label}</a>'
        )
    if preliminary:
        label += ' <span class="lb-preliminary" title="fewer votes than the minimum">(preliminary)</span>'
    if unrankable:
        label += (
            ' <span class="lb-preliminary" title="the votes cannot place this model yet">(unrankable)</span>'
        )
    return f"<td>{label}</td>", org, lic


#: what a visitor sees before there are ratings (never an operator command)
EMPTY_TEXT = (
    "🌱 No ratings yet. The leaderboard appears once visitors have voted in enough anonymous battles: "
    "start one in the **Arena (battle)** tab, and check back later."
)
NO_STYLE_TEXT = "Style-controlled ratings are not available for this leaderboard yet; untick “Style control”."
FLOORED_TEXT = (
    "ℹ️ These few votes can be explained perfectly by answer style, so style control cannot estimate "
    "its intervals from them: each is shown at least as wide as the plain ratings' interval."
)


def _is_preliminary(services: AppServices, row: LeaderboardRow) -> bool:
    return row.preliminary or row.votes < services.settings.min_votes


def _rows_html(services: AppServices, rows: list[LeaderboardRow], cards: dict[str, ModelCard]) -> str:
    head = "".join(f"<th>{c}</th>" for c in COLUMNS)
    body = []
    for row in rows:
        preliminary = _is_preliminary(services, row)
        model_cell, org, lic = _model_cell(cards.get(row.model), row.model, preliminary, row.unrankable)
        ci = f"+{row.upper - row.rating:.0f} / -{row.rating - row.lower:.0f}"
        cls = ' class="lb-preliminary-row"' if preliminary else ""
        body.append(
            f"<tr{cls}>"
            + _cell(str(row.rank_ub))
            + model_cell
            + _cell(f"{row.rating:.0f}")
            + _cell(ci)
            + _cell(str(row.votes))
            + _cell(f"{row.online_elo:.0f}")
            + _cell(org or "—")
            + _cell(lic or "—")
            + "</tr>"
        )
    return f'<table class="lb-table"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def table_html(services: AppServices, view: LeaderboardView) -> str:
    """The ranked models, then (apart) the preliminary ones, each table in its own scroll box so that on
    a phone every column stays reachable without widening the page."""
    if not view.rows:
        text = NO_STYLE_TEXT if view.style_control and view.created_at is not None else EMPTY_TEXT
        return f'<p id="lb-empty">{html.escape(text).replace("**", "")}</p>'
    cards = {card.name: card for card in services.catalogue()}
    ranked = [r for r in view.rows if not _is_preliminary(services, r)]
    early = [r for r in view.rows if _is_preliminary(services, r)]
    parts = []
    if ranked:
        parts.append(
            f'<div class="lb-scroll" id="lb-table-scroll">{_rows_html(services, ranked, cards)}</div>'
        )
    if early:
        n = services.settings.min_votes
        parts.append(
            f'<h4 id="lb-preliminary-title">Preliminary: fewer than {n} votes so far '
            "(their ratings still move a lot)</h4>"
            f'<div class="lb-scroll" id="lb-preliminary-scroll">{_rows_html(services, early, cards)}</div>'
        )
    return "\n".join(parts)


def _plot(figure_json: str | None) -> PlotData | None:
    """A figure serialised once per snapshot, handed to gr.Plot as is (it would serialise a Figure again)."""
    return None if figure_json is None else PlotData(type="plotly", plot=figure_json)


def summary_md(view: LeaderboardView) -> str:
    """The snapshot's time and size (or the visitor's empty-state text); never an operator command."""
    if view.created_at is None:
        return EMPTY_TEXT
    updated = view.created_at.strftime("%Y-%m-%d %H:%M UTC") if isinstance(view.created_at, datetime) else "?"
    kind = "style-controlled" if view.style_control else "raw"
    text = f"**Total votes:** {view.total_votes:,} · **Models:** {view.total_models}"
    text += f" · **Ratings computed:** {updated}"
    if view.newer_votes:
        text += f" · {view.newer_votes:,} newer vote{'s' if view.newer_votes != 1 else ''} not in them yet"
    else:
        text += " · every counted vote is in them"
    text += f" · ratings: {kind}, category `{html.escape(view.category)}`"
    if view.excluded is not None:
        left_out = html.escape(view.excluded_text())
        text += f"\n\n**Counted:** {view.total_votes:,} · **Excluded:** {left_out}"
    if view.fragility:
        text += f"\n\n{html.escape(view.fragility)}"
    if view.style_floored:
        text += f"\n\n{FLOORED_TEXT}"
    return text


def build_leaderboard_tab(services: AppServices) -> tuple[ViewFn, list[Component], list[Component]]:
    """Returns (load function, inputs, outputs) so app.py can fill the tab on page load."""
    gr.Markdown("### 🏆 Leaderboard\nBradley-Terry ratings from anonymous battles (see the About tab).")
    with gr.Row():
        style_checkbox = gr.Checkbox(False, label="Style control", elem_id="lb-style-control")
        category_dropdown = gr.Dropdown(
            ["overall"], value="overall", label="Category", elem_id="lb-category", allow_custom_value=True
        )
        refresh = gr.Button("🔄 Refresh", elem_id="lb-refresh")
    summary = gr.Markdown("", elem_id="lb-summary")
    table = gr.HTML("", elem_id="lb-table")
    plots = []
    for _key, (elem_id, label) in PLOTS.items():
        plots.append(gr.Plot(label=label, elem_id=elem_id))

    def view_fn(style_control: bool, category: str) -> Outputs:
        try:
            view = services.leaderboard_view(
                category=category or "overall", style_control=bool(style_control)
            )
        except Exception as exc:  # an invalid category says what a valid one looks like; see failure_notice
            msg = html.escape(failure_notice(exc))
            return (msg, f"<p>{msg}</p>", gr.update(), *[None for _ in PLOTS])
        choices = list(view.categories) or ["overall"]
        return (
            summary_md(view),
            table_html(services, view),
            gr.update(choices=choices, value=view.category),
            # no empty chart frames before there are ratings
            *[gr.update(value=_plot(view.figures.get(key)), visible=bool(view.rows)) for key in PLOTS],
        )

    inputs: list[Component] = [style_checkbox, category_dropdown]
    outputs: list[Component] = [summary, table, category_dropdown, *plots]
    refresh.click(view_fn, inputs, outputs, api_name="leaderboard_view")
    style_checkbox.change(view_fn, inputs, outputs, api_visibility="private")
    category_dropdown.input(view_fn, inputs, outputs, api_visibility="private")
    return view_fn, inputs, outputs
