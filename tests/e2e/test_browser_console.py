"""The agent console in a real browser: a visitor writes in the chat widget, the agent sees it
appear live in the console, answers with the keyboard, and the visitor gets the answer; a
colleague viewing the same conversation shows up (collision detection); Hebrew mirrors the
panes.

The product's ASGI app (HTTP, the session-authenticated sockets and the widget socket) runs
under uvicorn in a thread of this process against the test database; Debian's Chromium is
driven by Playwright. Skipped where either is missing, except in CI (CI=true). Screenshots go
to docs/screenshots/console-en.png and console-he.png.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.signals import connection_created

from ascolto.core.actors import Actor
from ascolto.customers import services as customer_services
from ascolto.inbox import macros
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import AgentProfile, Conversation, Message
from tests.accounts.factories import MembershipFactory, TeamFactory, UserFactory, WorkspaceFactory
from tests.connectors.webchat.conftest import make_widget
from tests.connectors.webchat.test_browser import Server
from tests.inbox.factories import InboxFactory

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "correct horse battery"
LAUNCHER = "button[aria-controls='ascolto-chat-panel']"
T = TypeVar("T")


class ConsoleServer(Server):
    """The widget test server with the product's own websocket stack (session auth and the
    origin check), which the console's sockets need."""

    def __init__(self) -> None:
        super().__init__()
        from channels.routing import ProtocolTypeRouter

        from ascolto.config import asgi
        from ascolto.connectors.webchat.routing import with_widget_socket

        mapping = self.app.application_mapping
        # The widget's socket first, as config/asgi.py mounts it once the app is installed.
        websocket = with_widget_socket(asgi.websocket_app)
        self.app = ProtocolTypeRouter(
            {"http": mapping["http"], "websocket": websocket, "lifespan": mapping["lifespan"]}
        )


def _read_uncommitted(sender: Any, connection: Any, **kwargs: Any) -> None:
    # In-memory SQLite shares one cache between connections with table locks; readers that
    # take no read locks (the pages' queries) never collide with the sockets' writes.
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA read_uncommitted = 1")


@pytest.fixture
def server(
    transactional_db: None, _sync_orm_beside_playwright: None, settings: Any
) -> Iterator[ConsoleServer]:
    settings.ROOT_URLCONF = "tests.connectors.webchat.urls"  # the product's URLs + the widget's
    connection_created.connect(_read_uncommitted)
    # Every thread closes its connection when done, so none outlives the server and keeps the
    # test database from being dropped.
    database = connections.settings[DEFAULT_DB_ALIAS]
    max_age = database.get("CONN_MAX_AGE", 0)
    database["CONN_MAX_AGE"] = 0
    running = ConsoleServer()
    running.start()
    try:
        yield running
    finally:
        running.stop()
        connection_created.disconnect(_read_uncommitted)
        database["CONN_MAX_AGE"] = max_age


def _order(external_id: str, days_ago: int, total: str, status: str) -> Any:
    return customer_services.OrderInput(
        external_id=external_id,
        placed_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago),
        total=Decimal(total),
        currency="EUR",
        status=status,
    )


def _desk() -> dict[str, Any]:
    """A small café shop's service desk: two agents, a chat widget, an email inbox, customers
    with orders, a few open conversations and a shared macro."""
    workspace = WorkspaceFactory(name="Caffè Aurora", timezone="Europe/Rome")
    sara = UserFactory(username="sara", first_name="Sara", last_name="Ferri")
    marco = UserFactory(username="marco", first_name="Marco", last_name="Conti")
    for user in (sara, marco):
        user.set_password(PASSWORD)
        user.save()
        MembershipFactory(workspace=workspace, user=user, role="agent")
    AgentProfile.objects.create(workspace=workspace, user=sara, availability="online")
    team = TeamFactory(workspace=workspace, name="Logistics")
    team.members.add(sara, marco)
    widget = make_widget(
        workspace, title="Caffè Aurora", greeting={"en": "Hi! How can we help?"}, color="#7c2d12"
    )
    email = InboxFactory(
        workspace=workspace, name="Support email", channel="email", routing="manual"
    )
    sara_acts, marco_acts = Actor.for_user(sara), Actor.for_user(marco)

    def customer(name: str, tier: str, locale: str, email_address: str) -> Any:
        return customer_services.customer_create(
            workspace=workspace,
            actor=sara_acts,
            name=name,
            value_tier=tier,
            locale=locale,
            identities=[("email", email_address)],
        )

    with transaction.atomic():
        luca = customer("Luca Romano", "silver", "it", "luca.romano@example.it")
        inbox_services.message_receive(
            inbox=email,
            customer=luca,
            subject="Invoice for order W-2150",
            text="Could you send me an invoice with my VAT number? Grazie!",
        )
        sarah = customer("Sarah Johnson", "bronze", "en", "sarah.j@example.com")
        refund = inbox_services.message_receive(
            inbox=email,
            customer=sarah,
            subject="Refund still not received",
            text="I returned the cups two weeks ago and I am still waiting for the refund.",
        ).conversation
        inbox_services.conversation_set_priority(conversation=refund, priority=3, actor=sara_acts)
        noa = customer("נועה כהן", "platinum", "he", "noa.cohen@example.co.il")
        inbox_services.message_receive(
            inbox=email,
            customer=noa,
            subject="משלוח לתל אביב",
            text="שלום, האם אתם שולחים לתל אביב? כמה זמן לוקח המשלוח?",
        )

        giulia = customer_services.customer_create(
            workspace=workspace,
            actor=sara_acts,
            name="Giulia Bianchi",
            value_tier="gold",
            locale="it",
            timezone_name="Europe/Rome",
            identities=[("email", "giulia.bianchi@example.it"), ("phone", "+39 06 1234 5678")],
        )
        for number, days, total, status in (
            ("W-1873", 120, "64.50", "delivered"),
            ("W-2034", 45, "18.50", "delivered"),
            ("W-2291", 3, "29.00", "delivered"),
        ):
            customer_services.order_upsert(
                workspace=workspace,
                customer=giulia,
                actor=sara_acts,
                data=_order(number, days, total, status),
            )
        past = inbox_services.message_receive(
            inbox=email,
            customer=giulia,
            subject="Change of delivery address",
            text="Can you deliver my next order to my office instead?",
        ).conversation
        inbox_services.conversation_set_status(
            conversation=past, status="resolved", actor=sara_acts
        )
        damaged = inbox_services.message_receive(
            inbox=email,
            customer=giulia,
            subject="Order W-2291 arrived damaged",
            text="Hello, the Moka 3 arrived today with a broken handle. What can I do?",
            new_thread=True,
        ).conversation
        inbox_services.conversation_assign(conversation=damaged, actor=sara_acts, assignee=sara)
        inbox_services.note_add(
            conversation=damaged,
            author=sara,
            actor=sara_acts,
            text="@marco the courier confirms damage in transit. Can we send a replacement?",
        )
        inbox_services.conversation_assign(
            conversation=damaged,
            actor=sara_acts,
            assignee=marco,
            team=team,
            reason="replacements go through Logistics",
        )
        inbox_services.message_send(
            conversation=damaged,
            author=marco,
            actor=marco_acts,
            text="Ciao Giulia, I'm sorry! A new Moka 3 ships today; keep the damaged one.",
        )
        inbox_services.conversation_set_tags(
            conversation=damaged, names=["damaged", "replacement"], actor=marco_acts
        )
        inbox_services.message_receive(
            inbox=email,
            customer=giulia,
            text="Grazie mille, that's very kind!",
            conversation=damaged,
        )
        macros.macro_create(
            workspace=workspace,
            actor=sara_acts,
            name="Shipping update",
            body="Hi {{ customer.first_name }}, your order {{ last_order.external_id }} is "
            "{{ last_order.status|lower }}. {{ agent.name }}",
            actions={"tags": ["shipping"]},
        )
    from ascolto.connectors.webchat.config import widget_settings

    return {"key": widget_settings(widget.config).key, "damaged": damaged.pk}


def _wait_for(server: Server, check: Callable[[], T], what: str, timeout: float = 15) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = server.db(check)
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def _agent(browser: Browser, server: Server, username: str) -> tuple[BrowserContext, Page]:
    context = browser.new_context(
        viewport={"width": 1440, "height": 900}, locale="en-US", color_scheme="light"
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(f"{server.url}/accounts/login/?next=/inbox/%3Fview%3Dall")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/inbox/?view=all")
    return context, page


def test_a_visitor_writes_and_the_agent_answers_live_from_the_console(
    browser: Browser, server: ConsoleServer
) -> None:
    from playwright.sync_api import expect

    desk = server.db(_desk)
    agent_context, console = _agent(browser, server, "sara")
    expect(console.locator("#conversation-rows > .conv-row")).to_have_count(4)
    console.evaluate("window.__samePage = true")

    visitor_context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    visitor_context.set_default_timeout(20_000)
    visitor = visitor_context.new_page()
    visitor.goto(f"{server.url}/widget/demo/?key={desk['key']}")
    visitor.locator(LAUNCHER).click()
    visitor.get_by_label("Message").fill("Hi! Is the Moka 3 back in stock?")
    visitor.keyboard.press("Enter")

    # It appears in the console without a reload, at the top of the list.
    rows = console.locator("#conversation-rows > .conv-row")
    expect(rows.first).to_contain_text("Is the Moka 3 back in stock?")
    expect(rows).to_have_count(5)

    # Keyboard: j/k move in the list, Enter opens, r replies, Ctrl+Enter sends.
    console.keyboard.press("j")
    console.keyboard.press("j")
    expect(rows.nth(1).locator(".conv-link")).to_be_focused()
    console.keyboard.press("k")
    expect(rows.first.locator(".conv-link")).to_be_focused()
    console.keyboard.press("Enter")
    expect(console.locator("#conversation-title")).to_have_text("Hi! Is the Moka 3 back in stock?")
    expect(console.locator("#thread-items")).to_contain_text("Is the Moka 3 back in stock?")
    console.keyboard.press("r")
    expect(console.locator("#composer-text")).to_be_focused()
    console.keyboard.type("Yes, it is back since Monday!")
    console.keyboard.press("Control+Enter")
    expect(console.locator("#thread-items .msg-outbound")).to_contain_text("back since Monday")
    expect(console.locator("#composer-text")).to_have_value("")

    # The visitor gets the answer live.
    expect(visitor.get_by_role("log")).to_contain_text("Yes, it is back since Monday!")
    expect(visitor.get_by_role("log")).to_contain_text("Sara")
    reply = _wait_for(
        server,
        lambda: Message.objects.filter(kind="outbound", text__contains="Monday").first(),
        "the reply to be stored",
    )
    assert reply.author_user.username == "sara"

    # e resolves (after leaving the text box); the list drops it from the open view.
    console.keyboard.press("Escape")
    console.keyboard.press("e")
    expect(console.get_by_test_id("conversation-status")).to_have_text("Resolved")
    expect(rows).to_have_count(4)
    assert (
        server.db(lambda: Conversation.objects.get(pk=reply.conversation_id).status) == "resolved"
    )
    assert console.evaluate("window.__samePage") is True  # nothing reloaded the page

    # A colleague opens the damaged-order conversation: each sees the other there.
    colleague_context, colleague = _agent(browser, server, "marco")
    colleague.locator(f'.conv-row[data-conversation-id="{desk["damaged"]}"] .conv-link').click()
    expect(colleague.locator("#conversation-title")).to_have_text("Order W-2291 arrived damaged")
    console.locator(f'.conv-row[data-conversation-id="{desk["damaged"]}"] .conv-link').click()
    expect(console.locator("#presence")).to_have_text("Marco Conti also viewing")
    expect(colleague.locator("#presence")).to_have_text("Sara Ferri also viewing")
    colleague.locator("#composer-text").press_sequentially("Sending the tracking link")
    expect(console.locator("#presence")).to_contain_text("Marco Conti is typing")
    panel = console.locator("#customer-panel")
    expect(panel).to_contain_text("Giulia Bianchi")
    expect(panel).to_contain_text("W-2291")
    expect(panel).to_contain_text("Change of delivery address")
    console.locator("#conversation-title").focus()
    console.mouse.move(0, 0)
    _shot(console, "console-en")

    # In Hebrew the panes mirror: the list sits to the right of the thread.
    console.get_by_role("button", name="עברית").click()
    expect(console.locator("html")).to_have_attribute("dir", "rtl")
    expect(console.locator("#conversation-title")).to_have_text("Order W-2291 arrived damaged")
    list_box = console.locator(".pane-list").bounding_box()
    thread_box = console.locator(".pane-thread").bounding_box()
    assert list_box is not None
    assert thread_box is not None
    assert list_box["x"] > thread_box["x"]
    expect(console.locator("#presence")).to_contain_text("Marco Conti")
    console.mouse.move(0, 0)
    _shot(console, "console-he")

    for context in (colleague_context, visitor_context, agent_context):
        context.close()


def _off_the_browser_thread(work: Callable[[], T]) -> T:
    """Run `work` in one transaction in a thread of its own (the server is down, so not on its
    database thread; and not in this one, where Playwright's event loop lives)."""
    from concurrent.futures import ThreadPoolExecutor

    def run() -> T:
        try:
            with transaction.atomic():
                return work()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def test_after_a_dropped_connection_the_console_catches_up(
    browser: Browser, server: ConsoleServer
) -> None:
    from playwright.sync_api import expect

    desk = server.db(_desk)
    context, console = _agent(browser, server, "sara")
    console.locator(f'.conv-row[data-conversation-id="{desk["damaged"]}"] .conv-link').click()
    expect(console.locator("#thread-items")).to_contain_text("Grazie mille")

    server.stop()  # every socket drops
    expect(console.locator("#console-offline")).to_have_text("Live updates paused; reconnecting…")

    def customer_writes_twice() -> None:
        damaged = Conversation.objects.select_related("inbox", "customer").get(pk=desk["damaged"])
        inbox_services.message_receive(
            inbox=damaged.inbox,
            customer=damaged.customer,
            conversation=damaged,
            text="One more thing: can the new one come in red?",
        )
        luca = Conversation.objects.select_related("inbox", "customer").get(
            subject="Invoice for order W-2150"
        )
        inbox_services.message_receive(
            inbox=luca.inbox,
            customer=luca.customer,
            conversation=luca,
            text="My VAT number is IT01234567890.",
        )

    _off_the_browser_thread(customer_writes_twice)  # nobody is listening: the pushes are lost
    server.start()

    # Back online: the open thread gets what it missed, and the list its new order.
    expect(console.locator("#console-offline")).to_be_hidden()
    expect(console.locator("#thread-items")).to_contain_text("can the new one come in red?")
    expect(console.locator("#thread-items .msg")).to_have_count(5)
    expect(console.locator("#conversation-rows > .conv-row").first).to_contain_text(
        "My VAT number is IT01234567890."
    )
    context.close()
