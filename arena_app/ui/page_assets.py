"""What the page carries besides its components: the style sheet (narrow screens included) and the
``<head>`` script (the address as opened, for deep links; a copy button on every chat message)."""

from __future__ import annotations

CSS = """
.lb-table { width: 100%; border-collapse: collapse; }
.lb-table th, .lb-table td { padding: 4px 8px; border-bottom: 1px solid var(--border-color-primary); }
.lb-table th, .lb-table td { white-space: nowrap; }
.lb-preliminary { color: var(--body-text-color-subdued); font-size: 0.85em; }
/* the table scrolls inside its own box, so every column stays reachable on a phone */
.lb-scroll { max-width: 100%; overflow-x: auto; -webkit-overflow-scrolling: touch; }
/* the vote buttons stay on screen while both answers are read */
.vote-bar { position: sticky; bottom: 0; z-index: 20; background: var(--background-fill-primary);
  padding: 6px 0; border-top: 1px solid var(--border-color-primary); }
.shared-answers { display: flex; flex-wrap: wrap; gap: 12px; }
.shared-answer { flex: 1 1 280px; min-width: 0; border: 1px solid var(--border-color-primary);
  border-radius: 8px; padding: 8px; overflow-wrap: anywhere; }
.shared-user { margin-top: 12px; overflow-wrap: anywhere; }
.arena-copy { float: right; margin-left: 6px; padding: 0 4px; font-size: 0.8em; cursor: pointer;
  border: 1px solid var(--border-color-primary); border-radius: 4px; background: transparent; }
.arena-copy::before { content: "⧉"; }
.arena-copy.copied::before { content: "✓"; }
@media (max-width: 640px) {
  .gradio-container { padding-left: 6px !important; padding-right: 6px !important; }
  /* on a phone the bar is fixed to the bottom of the screen (an ancestor's overflow defeats sticky);
     the tab gets room below so the bar never covers its last controls */
  .vote-bar { position: fixed; left: 0; right: 0; bottom: 0; margin: 0; padding: 4px 6px;
    flex-wrap: nowrap !important; box-shadow: 0 -2px 6px rgba(0, 0, 0, 0.15); }
  .vote-bar button { min-width: 0 !important; font-size: 0.8em; padding: 4px 2px !important; }
  #tab-battle, #tab-sbs { padding-bottom: 72px; }
}
"""

# Copy buttons: one per message, added as messages appear (the chatbots re-render their HTML, so an
# observer puts a button back on any message that lost it). The button copies the message's text as shown
# (innerText), never its HTML; it has no text of its own, so the message's text stays the same.
_COPY_JS = """
(() => {
  const SELECTOR = '[data-testid=bot], [data-testid=user]';
  const addButtons = (root) => {
    for (const msg of root.querySelectorAll(SELECTOR)) {
      if (msg.querySelector(':scope > .arena-copy')) continue;
      const b = document.createElement('button');
      b.type = 'button'; b.className = 'arena-copy';
      b.setAttribute('aria-label', 'Copy message'); b.title = 'Copy message';
      b.addEventListener('click', (ev) => {
        ev.stopPropagation();
        const clone = msg.cloneNode(true);
        clone.querySelectorAll('.arena-copy').forEach((n) => n.remove());
        const text = (clone.innerText || clone.textContent || '').trim();
        if (navigator.clipboard) navigator.clipboard.writeText(text).catch(() => {});
        window.__arenaLastCopy = text;
        b.classList.add('copied'); setTimeout(() => b.classList.remove('copied'), 1500);
      });
      msg.prepend(b);
    }
  };
  let queued = false;
  new MutationObserver(() => {
    if (queued) return; queued = true;
    requestAnimationFrame(() => { queued = false; addButtons(document); });
  }).observe(document.documentElement, {subtree: true, childList: true});
})();
"""

HEAD = (
    "<script>window.__arenaInitialQuery = window.location.search;</script><script>" + _COPY_JS + "</script>"
)
