"""What an agent does in a real browser: sign in, find a customer, read the Customer 360 page,
and switch the interface to Hebrew (right to left).

Drives Debian's Chromium through Playwright. Skipped where either is missing, except in CI
(CI=true), where a missing browser is a failure. As a side effect, screenshots of the main
screens in English and Hebrew are saved into docs/screenshots/ for the README.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from django.db import connection, transaction

from ascolto.core.actors import Actor
from ascolto.customers import services
from tests.accounts.factories import MembershipFactory, UserFactory, WorkspaceFactory
from tests.ui.conftest import build_rich_customer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "correct horse battery"
T = TypeVar("T")


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1440, "height": 900}, locale="en-US", color_scheme="light"
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


def _order(
    external_id: str, day: int, total: str, status: str = "delivered"
) -> services.OrderInput:
    return services.OrderInput(
        external_id=external_id,
        placed_at=dt.datetime(2025, 1, 1, 9, tzinfo=dt.UTC) + dt.timedelta(days=day),
        total=Decimal(total),
        currency="EUR",
        status=status,
    )


NOTES = [
    ("note", "Chiamata: consegna in ritardo", "Promised a call back once the courier confirms."),
    ("message", "Domanda sulla taglia", "Is the linen shirt true to size?"),
    ("note", "Reso approvato", "Return label sent by email."),
    ("event", "Newsletter opened", ""),
]


def _off_the_browser_thread(build: Callable[[], T]) -> T:
    """Run `build` in one transaction in another thread: services publish realtime events
    through async_to_sync, which refuses to run in the thread where Playwright's event loop
    lives, and the interface layer (here, the test) owns the transaction."""

    def run() -> T:
        try:
            with transaction.atomic():
                return build()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


@pytest.fixture
def agent_login(browser: Browser) -> dict[str, Any]:
    """A workspace with a handful of customers from Italy, Israel and elsewhere, and an agent."""
    return _off_the_browser_thread(_build_workspace)


def _build_workspace() -> dict[str, Any]:
    workspace = WorkspaceFactory(name="Bottega Aurora", timezone="Europe/Rome")
    user = UserFactory(username="sara", first_name="Sara", last_name="Ferri")
    user.set_password(PASSWORD)
    user.save()
    MembershipFactory(workspace=workspace, user=user, role="agent")
    actor = Actor.for_user(user)
    people = [
        ("נועה כהן", "gold", "noa.cohen@example.co.il", "+972 52 123 4567", 4),
        ("Luca Romano", "silver", "luca.romano@example.it", "+39 347 555 0101", 2),
        ("Sarah Johnson", "bronze", "sarah.j@example.com", "+44 20 7946 0958", 1),
        ("Francesca Esposito", "", "f.esposito@example.it", "+39 081 555 0199", 0),
        ("אבי לוי", "silver", "avi.levi@example.co.il", "+972 3 555 1234", 3),
        ("Marco Conti", "bronze", "marco.conti@example.it", "+39 02 5550 1234", 1),
    ]
    for index, (name, tier, email, phone, orders) in enumerate(people):
        customer = services.customer_create(
            workspace=workspace,
            actor=actor,
            name=name,
            external_id=f"CRM-{100 + index}",
            value_tier=tier,
            identities=[("email", email), ("phone", phone)],
        )
        for n in range(orders):
            services.order_upsert(
                workspace=workspace,
                customer=customer,
                actor=actor,
                data=_order(f"W-{index}{n}", day=40 * n + index, total=f"{35 + 20 * n}.90"),
            )
    star = build_rich_customer(workspace, actor, orders=6)
    for n in range(24):
        kind, title, body = NOTES[n % len(NOTES)]
        services.activity_record(
            customer=star,
            kind=kind,
            title=title,
            body=body,
            actor=actor,
            occurred_at=dt.datetime(2025, 4, 1, 15, tzinfo=dt.UTC) + dt.timedelta(days=3 * n),
        )
    return {"username": user.username, "customer": star}


def _shot(page: Page, name: str, *, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def _sign_in(page: Page, base_url: str, username: str, screenshot: str | None = None) -> None:
    page.goto(f"{base_url}/accounts/login/")
    if screenshot:
        _shot(page, screenshot)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/customers/")


def test_agent_signs_in_searches_and_opens_the_customer_360(  # type: ignore[no-untyped-def]
    page: Page, live_server, agent_login
):
    from playwright.sync_api import expect

    _sign_in(page, live_server.url, agent_login["username"], screenshot="login-en")
    expect(page.get_by_role("heading", name="Customers")).to_be_visible()
    expect(page.get_by_test_id("workspace-name")).to_have_text("Bottega Aurora")
    rows = page.locator("#customer-rows tr")
    expect(rows).to_have_count(7)
    _shot(page, "customers-en")

    # The search updates the results in place: the page is not reloaded.
    page.evaluate("window.__samePage = true")
    page.get_by_label("Search").fill("bianchi")
    expect(rows).to_have_count(1)
    assert page.evaluate("window.__samePage") is True
    assert "q=bianchi" in page.url

    page.get_by_role("link", name="Giulia Bianchi").click()
    customer = agent_login["customer"]
    page.wait_for_url(f"{live_server.url}/customers/{customer.pk}/")
    expect(page.get_by_role("heading", name="Giulia Bianchi", level=1)).to_be_visible()
    expect(page.get_by_test_id("spend")).to_contain_text("600.00")
    expect(page.locator("#order-rows")).to_contain_text("ORD-1-0")
    expect(page.locator("#timeline")).to_contain_text("Profiles merged")
    expect(page.get_by_role("heading", name="Merged profiles")).to_be_visible()
    _shot(page, "customer-360-en", full_page=True)

    # Older timeline entries come in place, below the ones shown.
    before = page.locator("#timeline > li").count()
    page.get_by_role("button", name="Earlier activity").click()
    expect(page.locator("#timeline > li")).not_to_have_count(before)


def test_switching_to_hebrew_turns_the_interface_right_to_left(  # type: ignore[no-untyped-def]
    page: Page, live_server, agent_login
):
    from playwright.sync_api import expect

    _sign_in(page, live_server.url, agent_login["username"])
    page.get_by_role("button", name="עברית").click()

    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "he")
    expect(page.get_by_role("heading", name="לקוחות", level=1)).to_be_visible()
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    # Mirrored layout: the navigation sits on the right of the content.
    nav = page.locator("nav.sidenav").bounding_box()
    main = page.locator("main").bounding_box()
    assert nav is not None
    assert main is not None
    assert nav["x"] > main["x"]
    _shot(page, "customers-he")

    customer = agent_login["customer"]
    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    expect(page.get_by_role("heading", name="ציר זמן")).to_be_visible()
    expect(page.get_by_role("heading", name="הזמנות")).to_be_visible()
    _shot(page, "customer-360-he", full_page=True)

    # The choice is saved on the user and survives signing out (cookie on the login page).
    page.get_by_role("button", name="התנתקות").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.get_by_role("heading", name="כניסה")).to_be_visible()
    _shot(page, "login-he")
    from ascolto.accounts.models import User

    saved = _off_the_browser_thread(
        lambda: User.objects.get(username=agent_login["username"]).locale
    )
    assert saved == "he"


def test_customer_360_in_dark_mode(browser: Browser, live_server, agent_login) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(
        viewport={"width": 1440, "height": 900}, locale="en-US", color_scheme="dark"
    )
    try:
        page = context.new_page()
        _sign_in(page, live_server.url, agent_login["username"])
        page.goto(f"{live_server.url}/customers/{agent_login['customer'].pk}/")
        background = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
        assert background == "rgb(14, 18, 22)"
        _shot(page, "customer-360-dark-en")
    finally:
        context.close()
