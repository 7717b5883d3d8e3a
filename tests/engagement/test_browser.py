"""An admin builds a rule in a real Chromium (Playwright), dry-runs it for a customer and
previews a Hebrew template. Skipped where Chromium or Playwright is missing, except in CI
(CI=true). Screenshots of the builder and the preview are saved into docs/screenshots/."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from django.db import connection, transaction

from ascolto.connectors.api_channel import services as api_channel_services
from ascolto.core.actors import Actor
from ascolto.customers import services as customer_services
from ascolto.customers.models import Customer
from ascolto.engagement import guards, services
from ascolto.engagement.models import Event, Rule, Send
from ascolto.inbox.models import Inbox
from tests.accounts.factories import MembershipFactory, UserFactory, WorkspaceFactory

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "correct horse battery"
T = TypeVar("T")


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def off_the_browser_thread(build: Callable[[], T]) -> T:
    """Build data in a thread of its own (services publish realtime events through
    async_to_sync, which refuses to run beside Playwright's loop)."""

    def run() -> T:
        try:
            with transaction.atomic():
                return build()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def shop() -> dict[str, Any]:
    workspace = WorkspaceFactory(name="Bottega Aurora", timezone="Europe/Rome")
    user = UserFactory(username="giulia")
    user.set_password(PASSWORD)
    user.save()
    MembershipFactory(workspace=workspace, user=user, role="admin")
    actor = Actor.for_user(user)
    api_channel_services.api_inbox_create(
        workspace=workspace, name="Shop", actor=actor, routing=Inbox.Routing.MANUAL
    )
    config = guards.settings_for(workspace.pk)
    config.quiet_start = config.quiet_end = dt.time(0, 0)
    config.save()
    customer = customer_services.customer_create(
        workspace=workspace,
        actor=actor,
        name="Dana Levi",
        locale="en",
        identities=[("email", "dana@example.com")],
    )
    # Reached through the API channel (customer_create checks attributes against the schema).
    Customer.objects.filter(pk=customer.pk).update(attributes={"preferred_channel": "api"})
    hebrew = customer_services.customer_create(
        workspace=workspace, actor=actor, name="נועה כהן", locale="he"
    )
    customer_services.order_upsert(
        workspace=workspace,
        customer=customer,
        actor=actor,
        data=customer_services.OrderInput(
            external_id="1001",
            placed_at=dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC),
            total=Decimal("59.90"),
            currency="EUR",
            status="pending",
        ),
    )
    template = services.template_upsert(
        workspace=workspace,
        actor=actor,
        key="order-delayed",
        language="en",
        body="Hi {{ first_name }}, order {{ order.number }} is late.",
    )
    return {
        "workspace": workspace,
        "customer": customer,
        "hebrew": hebrew,
        "template": template,
    }


def sign_in(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill("giulia")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_build_a_rule_dry_run_it_and_preview_a_template(page: Page, live_server: Any) -> None:
    data = off_the_browser_thread(shop)
    sign_in(page, live_server.url)

    page.goto(f"{live_server.url}/engagement/")
    page.get_by_role("link", name="New rule").click()
    page.get_by_label("Name").fill("Tell about delays")
    page.get_by_label("When this event arrives").select_option("order.delayed")
    page.get_by_role("button", name="Add a condition").click()
    page.locator("#cond-0-field").fill("order.status")
    page.locator("#cond-0-op").select_option("eq")
    page.locator("#cond-0-value").fill("delayed")
    page.get_by_label("Template key").fill("order-delayed")
    page.get_by_role("button", name="Add an action").click()
    # Choosing another type swaps in that type's fields (htmx), keeping what was typed.
    page.locator("#action-1-type").select_option("add_tag")
    page.locator("#action-1-tag").fill("proactive")
    assert page.locator("#cond-0-value").input_value() == "delayed"
    shot(page, "engagement-rule-builder")
    page.get_by_role("button", name="Save the rule").click()

    page.get_by_role("heading", name="Dry run").wait_for()
    rule = Rule.objects.get(workspace=data["workspace"], name="Tell about delays")
    assert rule.conditions == {"all": [{"field": "order.status", "op": "eq", "value": "delayed"}]}
    assert rule.actions == [
        {"type": "send_message", "template": "order-delayed"},
        {"type": "add_tag", "tag": "proactive"},
    ]

    page.get_by_label("Customer (name, email or #id)").fill("dana@example.com")
    page.get_by_label("Order external id (optional)").fill("1001")
    page.get_by_role("button", name="Run the dry run").click()
    text = page.get_by_test_id("dry-run-text")
    text.wait_for()
    assert text.inner_text() == "Hi Dana, order 1001 is late."
    assert "Would send now." in page.get_by_test_id("dry-run-outcome").inner_text()
    assert not Event.objects.filter(workspace=data["workspace"]).exists()
    assert not Send.objects.filter(workspace=data["workspace"]).exists()

    page.goto(f"{live_server.url}/engagement/templates/new/")
    page.get_by_label("Key (letters, digits, - and _)").fill("welcome")
    page.get_by_label("Language (en, it, he…)").fill("he")
    page.get_by_label("Body").fill("שלום {{ first_name }}, תודה שבחרת בנו!")
    page.get_by_label("Preview for customer (name, email or #id)").fill(f"#{data['hebrew'].pk}")
    page.get_by_label("Preview for customer (name, email or #id)").dispatch_event("change")
    preview = page.get_by_test_id("preview-text")
    preview.wait_for()
    assert preview.get_attribute("dir") == "rtl"
    assert "שלום נועה, תודה שבחרת בנו!" in preview.inner_text()
    shot(page, "engagement-template-preview-he")
