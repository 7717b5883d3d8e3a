"""A member reads the customer journey in a real browser, follows the top pain point to the
customers behind it, and reads the page right to left in Hebrew. Screenshots go to
docs/screenshots/."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.accounts.factories import MembershipFactory, UserFactory, WorkspaceFactory
from tests.analytics.dashboards.conftest import conversation
from tests.analytics.test_journey import answer, at, tag, triage
from tests.customers.factories import CustomerFactory, OrderFactory
from tests.e2e import test_browser_customers as e2e
from tests.e2e.test_browser_customers import PASSWORD, _off_the_browser_thread, _shot

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

page = e2e.page
QUERY = "from=2026-03-02&to=2026-03-08"


def _build() -> dict[str, Any]:
    workspace = WorkspaceFactory(name="Bottega Aurora", timezone="UTC")
    user = UserFactory(username="giada", first_name="Giada", last_name="Russo")
    user.set_password(PASSWORD)
    user.save()
    MembershipFactory(workspace=workspace, user=user, role="agent")
    names = ["Dana Levi", "Marco Bianchi", "Sara Conti", "Yossi Cohen", "Lucia Ferri", "Noa Katz"]
    for i, name in enumerate(names):
        customer = CustomerFactory(workspace=workspace, name=name)
        late = i % 2 == 0
        OrderFactory(
            customer=customer,
            placed_at=at(3, 2 + i),
            status="delayed" if late else "delivered",
            promised_at=at(3, 4 + i),
            delivered_at=None if late else at(3, 3 + i),
        )
        c = conversation(workspace, customer=customer, channel="email", start=at(3, 3 + i))
        triage(
            c,
            intent="where_is_my_parcel" if late else "invoice_copy",
            sentiment="negative" if late else "neutral",
        )
        if late:
            tag(c, "late")
        answer(
            workspace, customer, nps=3 if late else 9, touchpoint="delivery" if late else "support",
            when=at(3, 7), n=i,
        )  # fmt: skip
    return {"username": user.username}


def test_member_reads_the_journey_and_its_pain_points(page: Page, live_server: Any) -> None:
    from playwright.sync_api import expect

    data = _off_the_browser_thread(_build)
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(data["username"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()

    page.goto(f"{base}/analytics/journey/?{QUERY}")
    expect(page.get_by_test_id("journey-stages")).to_contain_text("Deliver")
    expect(page.locator("svg.chart-bars").first).to_be_visible()
    top = page.get_by_test_id("journey-pain-points").locator("tbody tr").first
    expect(top).to_contain_text("where_is_my_parcel")  # ties with late delivery; by key
    _shot(page, "journey-en", full_page=True)

    top.get_by_role("link").click()
    expect(page.get_by_test_id("drill-customer-count")).to_contain_text("3 customers")
    expect(page.get_by_role("link", name="Dana Levi")).to_be_visible()

    page.goto(f"{base}/analytics/journey/?{QUERY}")
    page.get_by_role("button", name="עברית").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.get_by_test_id("journey-stages")).to_be_visible()
    _shot(page, "journey-he", full_page=True)
