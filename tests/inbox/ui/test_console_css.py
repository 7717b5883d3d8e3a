"""The console's stylesheet follows the design system: logical properties only (Hebrew mirrors
the panes) and colours from the design system's tokens only (so both themes keep the contrast
pinned in tests/ui/test_design_system.py)."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

CSS_DIR = Path(settings.STATICFILES_DIRS[0]) / "ascolto" / "css"


def _css(name: str) -> str:
    return re.sub(r"/\*.*?\*/", "", (CSS_DIR / name).read_text(encoding="utf-8"), flags=re.S)


def test_console_css_uses_logical_properties_only() -> None:
    physical = re.findall(
        r"(?:margin|padding|border)-(?:left|right)\b|\b(?:left|right)\s*:|"
        r"text-align\s*:\s*(?:left|right)|float\s*:\s*(?:left|right)",
        _css("console.css"),
    )

    assert physical == []


def test_console_css_takes_its_colours_from_the_design_tokens() -> None:
    css = _css("console.css")
    defined = set(re.findall(r"(--[\w-]+)\s*:", _css("ascolto.css")))
    used = set(re.findall(r"var\((--[\w-]+)\)", css))

    assert re.findall(r"#[0-9a-fA-F]{3,8}\b", css) == []
    assert used - defined == set()
