"""Turn user and model text into safe HTML for the chatbots.

Text is rendered as Markdown on the server with raw HTML *disabled* (markdown-it-py ``html=False``), so
``<script>`` or ``<img onerror=...>`` typed by a user or produced by a model comes out as literal text.
The result is then cleaned by nh3 with a small allow-list (no ``img``, no ``style``, no event-handler
attributes, links limited to http/https/mailto). The Chatbot is configured with ``render_markdown=False``
(it shows our HTML as is), ``sanitize_html=True`` (the browser sanitises once more) and ``allow_tags=False``.
"""

from __future__ import annotations

import html
import re

import nh3
from markdown_it import MarkdownIt

_MD = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False}).enable(
    ["table", "strikethrough"]
)

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "em",
    "strong",
    "del",
    "s",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "span",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"style"}, "td": {"style"}, "ol": {"start"}}


def render_markdown(text: str) -> str:
    """Markdown -> sanitised HTML. Never returns executable markup."""
    rendered = _MD.render(text or "")
    return nh3.clean(
        rendered,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        filter_style_properties={"text-align"},
        link_rel="noopener noreferrer nofollow",
        url_relative="deny",  # `[x](//host/...)` and `(/path)` links lose their href: absolute http(s) only
    ).strip()


# Markdown punctuation that starts a link, an image, emphasis, a code span, a strike or a table cell; and the
# starts of GFM autolinks ("www." and "scheme://"). Sentence punctuation stays as it is, so the status text
# is unchanged for ordinary messages.
_MD_MARKUP = re.compile(r"([\\`*_\[\]~|])")
_AUTOLINK = re.compile(r"(?i)\b(www)\.|:(?=//)")


def plain_markdown(text: str) -> str:
    """Untrusted text (an upstream error message, a refusal naming user input) for a gr.Markdown string,
    shown exactly as written: HTML is escaped (no ``<img>``, ``<a>`` or ``<form>`` reaches the browser),
    the Markdown punctuation of links, images and emphasis is backslash-escaped, and autolink starts are
    broken, so a ``//host``, ``www.`` or ``https://`` URL stays text."""
    escaped = _MD_MARKUP.sub(r"\\\1", html.escape(text, quote=False))
    return _AUTOLINK.sub(lambda m: f"{m.group(1)}\\." if m.group(1) else "\\:", escaped)


def render_note(text: str) -> str:
    """A short status note appended under an answer (escaped, italic)."""
    return f"<p><em>{html.escape(text)}</em></p>"


def inline_code(text: str) -> str:
    """Show text (e.g. a model name) verbatim in a gr.Markdown string, as a code span.

    Inside a code span Markdown renders ``<`` and ``&`` as text, so no markup can be injected; backticks
    (which would end the span) are replaced. gr.Markdown also sanitises its HTML in the browser.
    """
    cleaned = text.replace("`", "'").replace("\n", " ")
    return f"`{cleaned}`"
