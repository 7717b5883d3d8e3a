"""Debian's Chromium driven by Playwright, for the browser tests.

`missing()` says why no browser can run here (None when one can); `launch()` starts a headless
Chromium with the flags a container needs. Browser tests skip where one is missing, except in CI
(CI=true), where a missing browser is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


def require() -> None:
    """Skip the test where no browser can run (fail in CI)."""
    problem = missing()
    if problem:
        if IN_CI:
            pytest.fail(f"browser tests must run in CI: {problem}")
        pytest.skip(problem)


@contextmanager
def launch() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    require()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
