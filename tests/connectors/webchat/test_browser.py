"""The widget in a real browser: a visitor on a shop page opens the chat, writes, gets the
agent's reply live, comes back later to their history, in English and in Hebrew, on a phone.

The ASGI app (HTTP and websockets) runs under uvicorn in a thread of this process against the
test database; Debian's Chromium is driven by Playwright. Skipped where either is missing,
except in CI (CI=true). Screenshots go to docs/screenshots/widget-en.png and widget-he.png.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from channels.db import database_sync_to_async
from django.db import transaction
from django.db.backends.signals import connection_created

from ascolto.assistant.models import DeflectionOffer
from ascolto.connectors.webchat.config import widget_settings
from ascolto.core.actors import Actor
from ascolto.customers.models import Identity
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import AgentProfile, Attachment, Conversation, Message
from tests.accounts.factories import MembershipFactory, UserFactory, WorkspaceFactory
from tests.connectors.webchat.conftest import make_article, make_widget

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
LAUNCHER = "button[aria-controls='ascolto-chat-panel']"


def _png(width: int = 160, height: int = 90) -> bytes:
    """A small picture of a receipt-coloured rectangle, as a visitor would send."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes((250, 240, 215)) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


PNG = _png()
T = TypeVar("T")


def _missing_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    return None


class Server:
    """The product's ASGI app with the widget socket mounted, served by uvicorn in a thread of
    this process; it can be stopped and started again on the same port (a deploy, a crash)."""

    def __init__(self) -> None:
        from channels.routing import ProtocolTypeRouter, URLRouter

        from ascolto.config.asgi import django_asgi_app, lifespan
        from ascolto.config.routing import websocket_urlpatterns
        from ascolto.connectors.webchat.routing import with_widget_socket

        self.loop: asyncio.AbstractEventLoop | None = None

        async def lifespan_here(scope: Any, receive: Any, send: Any) -> None:
            self.loop = asyncio.get_running_loop()
            await lifespan(scope, receive, send)

        self.app = ProtocolTypeRouter(
            {
                "http": django_asgi_app,
                "websocket": with_widget_socket(URLRouter(websocket_urlpatterns)),
                "lifespan": lifespan_here,
            }
        )
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.uvicorn: Any = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        import uvicorn
        from channels.layers import channel_layers

        # A server started again gets a layer of its own: the previous one belonged to the
        # stopped server's event loop, which channels_redis will not receive on from another.
        channel_layers.backends.clear()

        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            lifespan="on",
            log_level="warning",
            # Sockets still open after this long are cut, as a process manager would.
            timeout_graceful_shutdown=5,
        )
        self.uvicorn = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.uvicorn.run, name="uvicorn", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.uvicorn.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.uvicorn.should_exit = True
        assert self.thread is not None
        self.thread.join(15)
        assert not self.thread.is_alive(), "uvicorn did not stop"

    def db(self, work: Callable[[], T]) -> T:
        """Run `work` on asgiref's database thread, where the widget sockets do their database
        work on SQLite, so the test's writes and theirs never overlap: with the in-memory
        SQLite of the default test run, overlapping writers fail at once."""
        assert self.loop is not None
        call = database_sync_to_async(work)
        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout=30)


@pytest.fixture(scope="module")
def browser(django_db_setup: None) -> Iterator[Browser]:
    problem = _missing_browser()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"Browser tests need Chromium and Playwright: {problem}.", pytrace=False)
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _read_uncommitted(sender: Any, connection: Any, **kwargs: Any) -> None:
    # In-memory SQLite shares one cache between connections with table locks; readers that
    # take no read locks (the pages' queries) never collide with the sockets' writes.
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA read_uncommitted = 1")


@pytest.fixture(scope="module")
def _sync_orm_beside_playwright() -> Iterator[None]:
    # Playwright's sync API keeps an event loop in this thread while the browser is open; the
    # database flush between tests is synchronous and runs here all the same.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture
def server(transactional_db: None, _sync_orm_beside_playwright: None) -> Iterator[Server]:
    connection_created.connect(_read_uncommitted)
    running = Server()
    running.start()
    try:
        yield running
    finally:
        running.stop()
        connection_created.disconnect(_read_uncommitted)


def _shop() -> dict[str, Any]:
    workspace = WorkspaceFactory(name="Caffè Aurora")
    agent = UserFactory(first_name="Sara", last_name="Ferri")
    MembershipFactory(workspace=workspace, user=agent, role="agent")
    AgentProfile.objects.create(workspace=workspace, user=agent, availability="online")
    inbox = make_widget(
        workspace,
        title="Caffè Aurora",
        greeting={"en": "Hi! How can we help?", "he": "שלום! איך אפשר לעזור?"},
        color="#7c2d12",
    )
    return {"key": widget_settings(inbox.config).key, "agent": agent}


@pytest.fixture
def shop(server: Server) -> dict[str, Any]:
    return server.db(_shop)


def _wait_for(server: Server, check: Callable[[], T], what: str, timeout: float = 10) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = server.db(check)
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _reply(server: Server, agent: Any, text: str) -> None:
    def send() -> None:
        with transaction.atomic():
            inbox_services.message_send(
                conversation=Conversation.objects.get(),
                author=agent,
                text=text,
                actor=Actor.for_user(agent),
            )

    server.db(send)


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def _open_chat(page: Page, url: str) -> None:
    from playwright.sync_api import expect

    page.goto(url)
    page.locator(LAUNCHER).click()
    expect(page.get_by_role("dialog")).to_be_visible()


def test_a_visitor_chats_with_an_agent_and_finds_the_history_later(
    browser: Browser, server: Server, shop: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    demo = f"{server.url}/widget/demo/?key={shop['key']}"
    _open_chat(page, demo)
    log = page.get_by_role("log")
    expect(log).to_contain_text("Hi! How can we help?")
    expect(page.get_by_role("dialog")).to_contain_text("We're online")
    expect(page.get_by_label("Message")).to_be_focused()

    page.get_by_label("Message").fill('Where is my order? <img src=x onerror="alert(1)">')
    page.keyboard.press("Enter")
    stored = _wait_for(
        server, lambda: Message.objects.filter(kind="inbound").first(), "the message to be stored"
    )
    assert stored.text == 'Where is my order? <img src=x onerror="alert(1)">'
    expect(log).to_contain_text('<img src=x onerror="alert(1)">')  # shown as text
    assert log.locator("img").count() == 0

    _reply(server, shop["agent"], "It ships tomorrow, see https://shop.example.com/track")
    expect(log).to_contain_text("It ships tomorrow")
    expect(log.get_by_role("link", name="https://shop.example.com/track")).to_be_visible()
    expect(log).to_contain_text("Sara")  # the agent by first name
    _shot(page, "widget-en")

    page.locator("#ascolto-chat-file").set_input_files(
        files=[{"name": "receipt.png", "mimeType": "image/png", "buffer": PNG}]
    )
    expect(log.get_by_role("img", name="receipt.png")).to_be_visible()
    assert server.db(lambda: Attachment.objects.get().filename) == "receipt.png"

    # Keyboard: Escape closes and gives the focus back to the launcher.
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.locator(LAUNCHER)).to_be_focused()

    # A returning visitor (same browser, later) sees the conversation so far.
    page.reload()
    page.locator(LAUNCHER).click()
    expect(log).to_contain_text("Where is my order?")
    expect(log).to_contain_text("It ships tomorrow")
    expect(log.get_by_role("img", name="receipt.png")).to_be_visible()
    assert server.db(lambda: Message.objects.filter(kind="inbound").count()) == 2

    # In Hebrew, right to left, with the same history.
    _open_chat(page, demo + "&locale=he")
    assert page.locator("[data-ascolto-chat] .w").get_attribute("dir") == "rtl"
    expect(page.get_by_role("dialog")).to_contain_text("אנחנו זמינים")
    expect(log).to_contain_text("It ships tomorrow")
    page.get_by_label("הודעה").fill("תודה רבה!")
    page.keyboard.press("Enter")
    _wait_for(
        server, lambda: Message.objects.filter(text="תודה רבה!").exists(), "the Hebrew message"
    )
    panel = page.get_by_role("dialog").bounding_box()
    assert panel is not None
    assert panel["x"] < 640  # mirrored: the panel opens on the left
    _shot(page, "widget-he")
    context.close()


def test_on_a_phone_the_chat_fills_the_screen(
    browser: Browser, server: Server, shop: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="it-IT"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    _open_chat(page, f"{server.url}/widget/demo/?key={shop['key']}")
    expect(page.get_by_role("dialog")).to_contain_text("Siamo online")  # from navigator.language
    box = page.get_by_role("dialog").bounding_box()
    assert box is not None
    assert (box["width"], box["height"]) == (390, 844)
    page.get_by_label("Messaggio").fill("Ciao!")
    page.get_by_role("button", name="Invia", exact=True).click()
    _wait_for(
        server, lambda: Message.objects.filter(text="Ciao!").exists(), "the message from the phone"
    )
    context.close()


def test_when_nobody_is_online_the_visitor_leaves_an_email(
    browser: Browser, server: Server, shop: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    server.db(lambda: AgentProfile.objects.update(availability="offline"))
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    _open_chat(page, f"{server.url}/widget/demo/?key={shop['key']}")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("We're away right now")
    expect(dialog).to_contain_text("Leave your email")
    page.get_by_label("Email").fill("noa@example.com")
    page.get_by_role("button", name="Save").click()
    expect(dialog).to_contain_text("We'll answer at noa@example.com.")
    expect(page.get_by_label("Email")).to_be_hidden()
    assert server.db(
        lambda: Identity.objects.filter(kind="email", value="noa@example.com").exists()
    )
    context.close()


def test_after_a_dropped_connection_the_widget_reconnects_resends_and_resyncs(
    browser: Browser, server: Server, shop: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    context.set_default_timeout(20_000)
    page = context.new_page()
    _open_chat(page, f"{server.url}/widget/demo/?key={shop['key']}")
    log = page.get_by_role("log")
    page.get_by_label("Message").fill("Before the restart")
    page.keyboard.press("Enter")
    _wait_for(server, lambda: Message.objects.filter(kind="inbound").exists(), "the message")

    server.stop()  # every socket drops
    expect(page.get_by_role("dialog")).to_contain_text("Reconnecting")
    page.get_by_label("Message").fill("Written while offline")
    page.keyboard.press("Enter")
    server.start()
    _reply(server, shop["agent"], "Sent while your socket was down")

    # Back online: the pending message is resent (and stored once), the reply is synced.
    expect(log).to_contain_text("Sent while your socket was down")
    _wait_for(
        server,
        lambda: Message.objects.filter(text="Written while offline").exists(),
        "the message written while offline",
    )
    expect(page.get_by_role("dialog")).to_contain_text("We're online")
    assert server.db(lambda: Message.objects.filter(text="Written while offline").count()) == 1
    assert log.get_by_text("Before the restart").count() == 1
    context.close()


def test_before_the_first_message_help_articles_are_offered_and_can_solve_it(
    browser: Browser, server: Server, shop: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    agent = shop["agent"]
    server.db(
        lambda: make_article(
            agent.memberships.get().workspace,
            Actor.for_user(agent),
            "returns",
            {"en": ("Return an item", "You can return an item within 30 days from your orders.")},
        )
    )
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    _open_chat(page, f"{server.url}/widget/demo/?key={shop['key']}")
    log = page.get_by_role("log")

    page.get_by_label("Message").fill("How do I return an item?")
    page.keyboard.press("Enter")
    offered = log.get_by_role("group", name="These articles may answer your question")
    expect(offered.get_by_role("link", name="Return an item")).to_have_attribute(
        "href",
        f"{server.url}/help/{server.db(lambda: agent.memberships.get().workspace.slug)}"
        "/en/a/return-an-item/",
    )
    expect(offered).to_contain_text("within 30 days")
    solved = offered.get_by_role("button", name="This solved it")
    solved.focus()
    page.keyboard.press("Enter")  # a real button, reachable from the keyboard
    expect(log).to_contain_text("Glad it helped")
    _wait_for(
        server,
        lambda: DeflectionOffer.objects.filter(confirmed_at__isnull=False).exists(),
        "the confirmed deflection",
    )
    assert server.db(lambda: Message.objects.count()) == 0

    # Asked again, not helped: the question goes to the team as usual.
    page.get_by_label("Message").fill("Can I return an item I opened?")
    page.keyboard.press("Enter")
    log.get_by_role("button", name="I still need help").click()
    stored = _wait_for(
        server, lambda: Message.objects.filter(kind="inbound").first(), "the message"
    )
    assert stored.text == "Can I return an item I opened?"
    expect(log.get_by_role("button", name="I still need help")).to_have_count(0)
    assert server.db(lambda: DeflectionOffer.objects.filter(confirmed_at=None).count()) == 1
    context.close()


def test_after_the_chat_the_visitor_taps_a_score_and_writes_why_inline(
    browser: Browser, server: Server, shop: dict[str, Any], settings: Any
) -> None:
    from playwright.sync_api import expect

    from ascolto.customers import services as customer_services
    from ascolto.surveys.models import Response, Survey
    from tests.surveys.factories import make_survey

    settings.ASCOLTO_PUBLIC_URL = server.url
    agent = shop["agent"]
    workspace = server.db(lambda: agent.memberships.get().workspace)
    server.db(
        lambda: make_survey(
            workspace, "csat", trigger=Survey.Trigger.CONVERSATION_RESOLVED, delay_minutes=60
        )
    )
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    _open_chat(page, f"{server.url}/widget/demo/?key={shop['key']}")
    log = page.get_by_role("log")
    page.get_by_label("Message").fill("Is my order on its way?")
    page.keyboard.press("Enter")
    stored = _wait_for(
        server, lambda: Message.objects.filter(kind="inbound").first(), "the message"
    )

    def consent_and_resolve() -> None:
        with transaction.atomic():
            conversation = Conversation.objects.get(pk=stored.conversation_id)
            customer_services.consent_set(
                customer=conversation.customer,
                purpose="surveys",
                channel="any",
                granted=True,
                actor=Actor.system("test"),
            )
            inbox_services.conversation_set_status(
                conversation=conversation, status="resolved", actor=Actor.for_user(agent)
            )

    server.db(consent_and_resolve)
    expect(log).to_contain_text("Tell us how we did")
    log.get_by_role("button", name="4", exact=True).click()
    why = log.get_by_label("What could we do better?")
    expect(why).to_be_focused()
    expect(log.get_by_role("link", name="Thanks! Tell us more")).to_be_visible()  # the fallback
    why.fill("Quick, but tell me the tracking number next time.")
    log.get_by_role("button", name="Send").click()
    expect(log).to_contain_text("Thank you for your feedback!")

    response = _wait_for(
        server,
        lambda: Response.objects.filter(completed=True).first(),
        "the completed response",
    )
    assert response.csat_score == 4
    assert response.comment == "Quick, but tell me the tracking number next time."
    assert server.db(lambda: Response.objects.count()) == 1
    context.close()
