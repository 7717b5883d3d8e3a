"""An admin in a real browser creates and starts an experiment, reads a running one's results,
and sees them right to left in Hebrew. Screenshots go to docs/screenshots/."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest
from django.utils import timezone

from ascolto.analytics.experiments import services
from tests.accounts.factories import MembershipFactory, UserFactory, WorkspaceFactory
from tests.customers.factories import CustomerFactory, OrderFactory
from tests.e2e import test_browser_customers as e2e
from tests.e2e.test_browser_customers import PASSWORD, _off_the_browser_thread, _shot

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The browser fixtures of the end-to-end tests (Chromium through Playwright, skipped without it).
page = e2e.page


def _build() -> dict[str, Any]:
    workspace = WorkspaceFactory(name="Bottega Aurora", timezone="Europe/Rome")
    user = UserFactory(username="giada", first_name="Giada", last_name="Russo")
    user.set_password(PASSWORD)
    user.save()
    MembershipFactory(workspace=workspace, user=user, role="admin")
    e = services.experiment_create(
        workspace=workspace,
        name="Free returns banner",
        hypothesis="Customers who see free returns order more.",
        unit="customer",
        variants=[{"key": "A", "weight": 1}, {"key": "B", "weight": 1}],
        metric="converted",
        design="sequential",
        baseline=0.2,
        mde=0.1,
    )
    services.experiment_start(experiment=e)
    later = timezone.now() + dt.timedelta(hours=1)
    for i in range(160):
        customer = CustomerFactory(workspace=workspace)
        variant = services.experiment_assign(experiment=e, unit_id=customer.pk)
        if i % (3 if variant == "B" else 6) == 0:
            OrderFactory(workspace=workspace, customer=customer, placed_at=later)
    return {"username": user.username, "experiment": e.pk}


def _sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_admin_creates_starts_and_reads_experiments(page: Page, live_server: Any) -> None:
    from playwright.sync_api import expect

    data = _off_the_browser_thread(_build)
    base = live_server.url
    _sign_in(page, base, data["username"])

    page.goto(f"{base}/analytics/experiments/")
    expect(page.get_by_test_id("experiments")).to_contain_text("Free returns banner")
    page.get_by_role("link", name="New experiment").click()
    page.get_by_label("Name", exact=True).fill("Survey five minutes after")
    page.get_by_label("What the variants change").select_option("survey_delay")
    page.get_by_label("Metric", exact=True).select_option("survey_answered")
    page.get_by_label("Baseline", exact=False).fill("0.25")
    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_test_id("sample-size")).to_have_text(
        "1251"
    )  # 25% -> 30%, alpha 0.05, power 0.8
    expect(page.get_by_test_id("status")).to_have_text("Draft")
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_test_id("status")).to_have_text("Running")

    page.goto(f"{base}/analytics/experiments/{data['experiment']}/")
    expect(page.get_by_test_id("results")).to_contain_text("control")
    expect(page.locator("svg.chart-interval")).to_be_visible()
    _shot(page, "experiment-en", full_page=True)

    page.get_by_role("button", name="עברית").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.get_by_role("heading", name="Free returns banner")).to_be_visible()
    _shot(page, "experiment-he", full_page=True)

    page.goto(f"{base}/analytics/targets/")
    expect(page.get_by_test_id("targets")).to_be_visible()
    _shot(page, "metric-targets-he")
