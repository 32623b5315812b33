"""What the battle tab offers around the chat: example prompts on an empty battle (``--example-prompts``),
the battle pool's model descriptions (as FastChat's "Expand to see the descriptions" accordion; it lists
every model that may be drawn, never which two are in the current battle) and the terms of use a visitor
accepts once (``--terms-of-use``; remembered in the browser's localStorage)."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from arena_app.services.app_services import AppServices
from arena_app.ui.battle_common import BattlePanel
from arena_app.ui.rendering import inline_code

TERMS_KEY = "arena-terms-accepted"
_ACCEPTED_BEFORE = (
    f"() => {{ try {{ return localStorage.getItem('{TERMS_KEY}') === '1'; }} catch (e) {{ return false; }} }}"
)


def add_examples(services: AppServices, panel: BattlePanel) -> None:
    """A row of example prompts that fill the input box; shown only while the battle is empty."""
    prompts = services.settings.example_prompt_list
    if not prompts:
        return
    with gr.Row(elem_id=f"{panel.prefix}-examples") as row:
        buttons = [
            gr.Button(text, size="sm", elem_id=f"{panel.prefix}-example-{n}", variant="secondary")
            for n, text in enumerate(prompts)
        ]
    for btn, text in zip(buttons, prompts, strict=True):
        # fills the box in the browser only: the visitor still presses Send (nothing runs on a click)
        btn.click(None, None, [panel.input], js=f"() => {_js_string(text)}", api_visibility="private")
    for event in (panel.send.click, panel.input.submit):
        event(lambda: gr.Row(visible=False), None, [row], api_visibility="private", show_progress="hidden")
    for event in (panel.new_round.click, panel.chat_a.clear, panel.chat_b.clear):
        event(lambda: gr.Row(visible=True), None, [row], api_visibility="private", show_progress="hidden")


def _js_string(text: str) -> str:
    """``text`` as a JavaScript string literal (JSON is valid JavaScript; ``</`` cannot end a script)."""
    import json

    return json.dumps(text).replace("</", "<\\/")


#: the fewest battle models for which the pool is listed: with two, the list would name both sides
MIN_POOL_LISTED = 3


def pool_descriptions(services: AppServices) -> str:
    """Markdown: every model that may appear in battles, with its organization, description and link."""
    pool = [card for card in services.catalogue() if card.battle]
    if len(pool) < MIN_POOL_LISTED:
        return (
            f"The battle pool has {len(pool)} models; their descriptions are listed once it has "
            f"{MIN_POOL_LISTED} or more (listing two would name both sides of every battle)."
        )
    lines = []
    for card in pool:
        parts = [f"**{inline_code(card.name)}**"]
        if card.organization:
            parts.append(f"({inline_code(card.organization)})")
        if card.description:
            parts.append("— " + card.description.replace("\n", " ").strip())
        if card.link and card.link.startswith(("https://", "http://")):
            parts.append(f"[link]({card.link.replace(')', '%29').replace(' ', '%20')})")
        lines.append("- " + " ".join(parts))
    return "\n".join(lines)


def add_descriptions(services: AppServices, prefix: str) -> None:
    with gr.Accordion(
        "🔍 Expand to see the descriptions of the models in the battle pool",
        open=False,
        elem_id=f"{prefix}-pool",
    ):
        gr.Markdown(
            "Any two of these may be drawn for a battle; which two you are talking to stays hidden until "
            "your vote.\n\n" + pool_descriptions(services),
            elem_id=f"{prefix}-pool-list",
        )


@dataclass(frozen=True)
class TermsGate:
    """The terms box and what it hides until the visitor accepts (see :func:`terms_gate`)."""

    box: gr.Group
    gated: gr.Column

    def wire_load(self, demo: gr.Blocks) -> None:
        """On page load, a browser that accepted before skips the terms."""
        accepted = gr.Checkbox(visible=False)
        demo.load(
            lambda ok: (gr.Group(visible=not ok), gr.Column(visible=bool(ok))),
            [accepted],
            [self.box, self.gated],
            js=_ACCEPTED_BEFORE,
            api_visibility="private",
            show_progress="hidden",
        )


def terms_box(services: AppServices, prefix: str) -> gr.Group | None:
    """The operator's terms of use with an accept button (None when there are no terms)."""
    terms = services.settings.terms_of_use.strip()
    if not terms:
        return None
    box = gr.Group(elem_id=f"{prefix}-terms", elem_classes="arena-terms")
    with box:
        gr.Markdown("### Terms of use\n\n" + terms)
        gr.Button("I accept the terms of use", variant="primary", elem_id=f"{prefix}-terms-accept")
    return box


def wire_accept(box: gr.Group, gated: gr.Column) -> TermsGate:
    """Accepting hides the terms, shows what they gate and remembers it in this browser."""
    accept = next(c for c in box.children if isinstance(c, gr.Button))
    remember = f"() => {{ try {{ localStorage.setItem('{TERMS_KEY}', '1'); }} catch (e) {{}} }}"
    accept.click(
        lambda: (gr.Group(visible=False), gr.Column(visible=True)),
        None,
        [box, gated],
        js=remember,
        api_visibility="private",
    )
    return TermsGate(box, gated)
