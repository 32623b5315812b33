"""The Leaderboard tab's rating over time (a line per top model across the stored snapshots) and per-model
page: pick a model of the latest snapshot and see its head-to-head record (battles, wins, losses, ties, win
rate) against each opponent, from the category's counted votes."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

import gradio as gr
from gradio.components.plot import PlotData

from arena_app.services.app_services import AppServices
from arena_app.ui.common import Outputs, failure_notice

if TYPE_CHECKING:
    from arena_app.services.leaderboard_models import HeadToHead

H2H_COLUMNS = ("Opponent", "Battles", "Wins", "Losses", "Ties", "Win rate")
PICK_TEXT = "Pick a model to see how it did against each opponent."


def head_to_head_html(h2h: HeadToHead) -> str:
    """The record as a table in its own scroll box (every column reachable on a phone); names escaped."""
    name = html.escape(h2h.model)
    if not h2h.rows:
        return f'<p id="lb-h2h-empty">No counted votes for {name} in this category yet.</p>'
    head = "".join(f"<th>{c}</th>" for c in H2H_COLUMNS)
    body = "".join(
        f"<tr><td>{html.escape(r.opponent)}</td><td>{r.battles}</td><td>{r.wins}</td><td>{r.losses}</td>"
        f"<td>{r.ties}</td><td>{100 * r.win_rate:.1f}%</td></tr>"
        for r in h2h.rows
    )
    return (
        f"<p>{name}: {h2h.battles:,} counted battles (ties count as half a win).</p>"
        f'<div class="lb-scroll" id="lb-h2h-scroll"><table class="lb-table" id="lb-h2h-table">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


@dataclass
class ModelPage:
    services: AppServices
    category: gr.Dropdown
    model: gr.Dropdown
    table: gr.HTML
    history: gr.Plot

    def models_fn(self, category: str) -> Outputs:
        """The rating-over-time chart (built once per snapshot set) and the models of the category's latest
        snapshot (best first) for the picker; nothing picked yet (the head-to-head query runs only when a
        visitor picks a model)."""
        try:
            view = self.services.leaderboard_view(category=category or "overall")
            history = self.services.rating_history(category or "overall")
        except Exception as exc:  # the main table says what went wrong as well
            msg = f"<p>{html.escape(failure_notice(exc))}</p>"
            return gr.update(choices=[], value=None), msg, gr.update(value=None, visible=False)
        names = [row.model for row in view.rows]
        figure = None if history.figure is None else PlotData(type="plotly", plot=history.figure)
        return (
            gr.update(choices=names, value=None),
            f'<p id="lb-h2h-empty">{PICK_TEXT}</p>',
            gr.update(value=figure, visible=figure is not None),
        )

    def pick_fn(self, model: str | None, category: str) -> str:
        if not model:
            return f'<p id="lb-h2h-empty">{PICK_TEXT}</p>'
        try:
            return head_to_head_html(self.services.head_to_head(model, category or "overall"))
        except Exception as exc:  # a refusal says why; see failure_notice
            return f"<p>{html.escape(failure_notice(exc))}</p>"

    def wire_load(self, demo: gr.Blocks) -> None:
        outputs = [self.model, self.table, self.history]
        demo.load(self.models_fn, [self.category], outputs, api_visibility="private")


def build_model_page(services: AppServices, category: gr.Dropdown) -> ModelPage:
    """Rating over time and the per-model section (under the charts); ``category`` is the tab's picker."""
    history = gr.Plot(label="Rating over time", elem_id="lb-plot-history", visible=False)
    gr.Markdown("#### Head-to-head\nOne model's record against each opponent, from every counted vote.")
    model = gr.Dropdown([], value=None, label="Model", elem_id="lb-model", allow_custom_value=True)
    table = gr.HTML(f'<p id="lb-h2h-empty">{PICK_TEXT}</p>', elem_id="lb-h2h")
    page = ModelPage(services, category, model, table, history)
    model.change(page.pick_fn, [model, category], [table], api_name="leaderboard_model")
    category.input(page.models_fn, [category], [model, table, history], api_name="leaderboard_history")
    return page
