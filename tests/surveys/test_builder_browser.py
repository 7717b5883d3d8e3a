"""In a real browser: an admin builds a survey in the builder, and a web chat visitor answers
the CSAT question inline as the chat ends, then adds a comment through the link.

Reuses the web chat browser tests' server (uvicorn in a thread, HTTP and websockets) and
Chromium; skipped where Chromium or Playwright is missing, except in CI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from django.db import transaction

from ascolto.connectors.webchat import handlers as webchat_handlers
from ascolto.connectors.webchat.config import widget_settings
from ascolto.core.actors import Actor
from ascolto.customers import services as customer_services
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Conversation, Message
from ascolto.surveys.models import Response, Survey
from ascolto.surveys.services import chat
from tests.accounts.factories import MembershipFactory, UserFactory, WorkspaceFactory
from tests.connectors.webchat.conftest import make_widget
from tests.connectors.webchat.test_browser import (  # noqa: F401 - fixtures
    LAUNCHER,
    Server,
    _open_chat,
    _sync_orm_beside_playwright,
    _wait_for,
    browser,
    server,
)
from tests.surveys.factories import SYSTEM, make_survey

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery"


def test_a_chat_visitor_answers_the_csat_inline_and_comments_through_the_link(
    browser: Browser,  # noqa: F811 - the imported fixture
    server: Server,  # noqa: F811
    settings: Any,
) -> None:
    from playwright.sync_api import expect

    settings.ASCOLTO_PUBLIC_URL = server.url
    webchat_handlers.set_survey_link(chat.chat_survey_url)

    def setup() -> str:
        workspace = WorkspaceFactory(name="Caffè Aurora")
        inbox = make_widget(workspace, title="Caffè Aurora")
        make_survey(
            workspace, "csat", trigger=Survey.Trigger.CONVERSATION_RESOLVED, delay_minutes=0
        )
        return widget_settings(inbox.config).key

    key = server.db(setup)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    _open_chat(page, f"{server.url}/widget/demo/?key={key}")
    page.get_by_label("Message").fill("Do you deliver on Sundays?")
    page.keyboard.press("Enter")
    _wait_for(server, lambda: Message.objects.filter(kind="inbound").exists(), "the message")

    def consent_and_resolve() -> None:
        with transaction.atomic():
            conversation = Conversation.objects.get()
            customer_services.consent_set(
                customer=conversation.customer,
                purpose="surveys",
                channel="any",
                granted=True,
                actor=SYSTEM,
            )
            inbox_services.conversation_set_status(
                conversation=conversation, status="resolved", actor=Actor.system("agent")
            )

    server.db(consent_and_resolve)
    log = page.get_by_role("log")
    # Resolving goes through the outbox, the survey trigger and a push: give a loaded machine
    # the context's 15 s rather than expect's default 5.
    expect(log).to_contain_text("Tell us how we did", timeout=15_000)
    log.get_by_role("button", name="4", exact=True).click()
    more = log.get_by_role("link", name="Thanks! Tell us more")
    expect(more).to_be_visible()
    _wait_for(server, lambda: Response.objects.filter(csat_score=4).exists(), "the answer")

    page.goto(str(more.get_attribute("href")))
    page.get_by_label("What could we have done better?").fill("Open on Sundays, please.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("h1")).to_contain_text("Thank you!")
    response = server.db(lambda: Response.objects.get())
    assert response.csat_score == 4
    assert response.completed
    assert response.comment == "Open on Sundays, please."
    context.close()


def test_an_admin_builds_a_survey_in_the_browser(
    browser: Browser,  # noqa: F811 - the imported fixture
    server: Server,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    def setup() -> str:
        workspace = WorkspaceFactory(name="Caffè Aurora")
        admin = UserFactory(username="anna")
        admin.set_password(PASSWORD)
        admin.save()
        MembershipFactory(workspace=workspace, user=admin, role="admin")
        return admin.username

    username = server.db(setup)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{server.url}/accounts/login/?next=/surveys/new/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/surveys/new/")

    page.get_by_label("Customer effort").check()
    page.get_by_label("Name (seen by staff)").fill("Returns effort")
    page.get_by_label("Title (seen by customers)").fill("How easy was your return?")
    page.get_by_role("button", name="Create survey").click()
    expect(page.locator("h1")).to_contain_text("Returns effort")

    page.get_by_role("button", name="Add a question").click()
    page.locator("#q-2-text").fill("What made it hard?")
    page.locator("#q-2-if_question").select_option("score")
    page.locator("#q-2-if_op").select_option("gte")
    page.locator("#q-2-if_value").fill("5")
    page.locator("#tr-he-title").fill("כמה קל היה להחזיר?")
    page.get_by_role("button", name="Save survey").last.click()
    expect(page.get_by_role("status").or_(page.locator(".notice-success"))).to_contain_text(
        "Survey saved."
    )
    page.get_by_role("button", name="Activate").click()
    expect(page.locator("[data-status]")).to_have_text("Active")

    survey = server.db(lambda: Survey.objects.get(name="Returns effort"))
    questions = server.db(lambda: list(survey.questions.order_by("position")))
    assert [q.key for q in questions] == ["score", "why", "q3"]
    assert questions[2].show_if == {"question": "score", "in": ["5", "6", "7"]}
    assert survey.translations["he"]["title"] == "כמה קל היה להחזיר?"

    page.goto(f"{server.url}/surveys/{survey.pk}/preview/?lang=he")
    expect(page.locator("h1")).to_have_text("כמה קל היה להחזיר?")
    assert page.locator("html").get_attribute("dir") == "rtl"
    context.close()
