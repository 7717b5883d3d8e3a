"""Markdown to safe HTML: markdown-it (CommonMark, tables, strikethrough), then nh3.

Raw HTML inside markdown is not interpreted by the parser (`html=False`), and whatever the
renderer produces still passes through the project's sanitiser, so a hostile article body is
shown as text, never run.
"""

from __future__ import annotations

from markdown_it import MarkdownIt

from ascolto.core.sanitize import html_to_text, sanitize_html

_parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_parser.enable(["table", "strikethrough"])


def render_markdown(source: str) -> str:
    """Sanitised HTML for `source`."""
    return sanitize_html(_parser.render(source or ""))


def markdown_to_text(source: str) -> str:
    """Plain text of `source`, for search and snippets."""
    return html_to_text(render_markdown(source))
