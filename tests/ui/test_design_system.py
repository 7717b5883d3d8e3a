"""The stylesheet mirrors itself for right-to-left languages and keeps WCAG AA contrast."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

STYLESHEET = Path(settings.STATICFILES_DIRS[0]) / "ascolto" / "css" / "ascolto.css"

# (text, background) pairs the pages use for normal-size text.
TEXT_PAIRS = [
    ("--text", "--surface"),
    ("--text", "--bg"),
    ("--text-muted", "--surface"),
    ("--text-muted", "--bg"),
    ("--text-muted", "--surface-2"),
    ("--text-muted", "--surface-hover"),
    ("--accent", "--surface"),
    ("--accent", "--accent-soft"),
    ("--on-accent", "--accent"),
    ("--danger", "--danger-soft"),
    ("--success", "--success-soft"),
    ("--warning", "--warning-soft"),
    ("--info", "--info-soft"),
    ("--tier-platinum-fg", "--tier-platinum-bg"),
    ("--tier-gold-fg", "--tier-gold-bg"),
    ("--tier-silver-fg", "--tier-silver-bg"),
    ("--tier-bronze-fg", "--tier-bronze-bg"),
]


def _css() -> str:
    return re.sub(r"/\*.*?\*/", "", STYLESHEET.read_text(encoding="utf-8"), flags=re.S)


def _tokens(block: str) -> dict[str, str]:
    return dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{6})\s*;", block))


def _themes() -> dict[str, dict[str, str]]:
    css = _css()
    dark_media = re.search(r"@media \(prefers-color-scheme: dark\)\s*\{(.*?)\n\}", css, re.S)
    assert dark_media is not None
    light = _tokens(css[: dark_media.start()])
    return {"light": light, "dark": {**light, **_tokens(dark_media.group(1))}}


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_text_colours_meet_wcag_aa(theme: str) -> None:
    tokens = _themes()[theme]

    too_low = {
        f"{fg} on {bg}": round(_contrast(tokens[fg], tokens[bg]), 2)
        for fg, bg in TEXT_PAIRS
        if _contrast(tokens[fg], tokens[bg]) < 4.5
    }
    focus = _contrast(tokens["--focus"], tokens["--surface"])

    assert too_low == {}
    assert focus >= 3  # non-text contrast of the focus ring


def test_stylesheet_uses_logical_properties_only() -> None:
    physical = re.findall(
        r"(?:margin|padding|border)-(?:left|right)\b|\b(?:left|right)\s*:|"
        r"text-align\s*:\s*(?:left|right)|float\s*:\s*(?:left|right)",
        _css(),
    )

    assert physical == []
