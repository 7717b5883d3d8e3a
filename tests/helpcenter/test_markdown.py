"""Article bodies are markdown rendered to HTML that can never run anything."""

from __future__ import annotations

import re

import pytest

from ascolto.helpcenter.markdown import markdown_to_text, render_markdown

XSS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<svg onload=alert(1)>",
    "<iframe src=https://evil.example></iframe>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<details open ontoggle=alert(1)>",
    '[x](https://ok.example "a\\" onmouseover=\\"alert(1))',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "```html\n<script>alert(1)</script>\n```",
]


_TAG = re.compile(r"<([a-z0-9]+)([^>]*)>")
_DANGEROUS_URL = re.compile(r'(?:href|src)="\s*(?:javascript|data|vbscript):')


@pytest.mark.parametrize("source", XSS)
def test_hostile_markdown_is_inert(source: str) -> None:
    html = render_markdown(source).lower()
    # Whatever is left of the attack can only be escaped text: no real tag carries it.
    for name, attributes in _TAG.findall(html):
        assert name not in {"script", "iframe", "svg", "math", "style", "details", "object"}
        assert not re.search(r"\bon\w+\s*=", attributes)
        assert "style=" not in attributes
        assert not _DANGEROUS_URL.search(attributes)


def test_markdown_features_render() -> None:
    html = render_markdown(
        "# Title\n\nSome **bold** and *em* with [a link](https://example.com).\n\n"
        "- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n`code`"
    )
    assert "<h1>Title</h1>" in html
    assert "<strong>bold</strong>" in html
    assert '<a href="https://example.com" rel="noopener noreferrer nofollow">a link</a>' in html
    assert "<li>one</li>" in html
    assert "<td>1</td>" in html
    assert "<code>code</code>" in html


def test_plain_text_for_search() -> None:
    assert markdown_to_text("# Reset\n\nClick **Forgot password**.") == (
        "Reset\n\nClick Forgot password."
    )
