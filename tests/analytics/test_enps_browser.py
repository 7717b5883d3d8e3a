"""An agent in a real browser meets the employee NPS card in the inbox, puts it off, and
answers it without the page reloading. Screenshot in docs/screenshots/."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from ascolto.analytics.enps.models import PulseAnswer
from tests.accounts.factories import WorkspaceFactory
from tests.analytics.enps_support import agents, pulse
from tests.e2e import test_browser_customers as e2e
from tests.e2e.test_browser_customers import PASSWORD, _off_the_browser_thread, _shot

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The browser fixtures of the end-to-end tests (Chromium through Playwright, skipped without it).
page = e2e.page


def _build() -> dict[str, Any]:
    workspace = WorkspaceFactory(name="Bottega Aurora")
    (agent,) = agents(workspace, 1)
    agent.set_password(PASSWORD)
    agent.save()
    pulse(workspace, is_open=True, asked=4)
    return {"username": agent.username}


def test_an_agent_puts_off_then_answers_the_pulse_in_the_inbox(
    page: Page, live_server: Any
) -> None:
    from playwright.sync_api import expect

    data = _off_the_browser_thread(_build)
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(data["username"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{base}/inbox/")

    card = page.get_by_test_id("enps-card")
    expect(card).to_contain_text("recommend working on this team")
    page.get_by_role("button", name="Not now").click()
    expect(card).to_have_count(0)
    page.reload()
    expect(card).to_be_visible()
    _shot(page, "enps-card-en")

    page.evaluate("window.__samePage = true")
    card.get_by_label("8", exact=True).check()
    card.get_by_label("Anything to add?").fill("Great team, busy month")
    card.get_by_role("button", name="Send").click()

    expect(page.get_by_test_id("enps-thanks")).to_contain_text("anonymous")
    assert page.evaluate("window.__samePage") is True
    assert list(PulseAnswer.objects.values_list("score", "comment")) == [
        (8, "Great team, busy month")
    ]
