"""End to end: a new email gets the acknowledgement by SMTP with absolute article links and a
signed "This answered my question" link per article; following it resolves the conversation
and counts one confirmed email deflection, however often it is clicked."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.core import signing
from django.db import transaction
from django.test import Client

from ascolto.assistant import selectors as assistant_selectors
from ascolto.assistant import services as assistant_services
from ascolto.assistant.models import DeflectionOffer
from ascolto.connectors.email import services as email_services
from ascolto.connectors.email.models import Mailbox
from ascolto.connectors.settings_ui.handlers import auto_reply
from ascolto.connectors.settings_ui.models import AutoReplySettings
from ascolto.core.actors import Actor
from ascolto.core.models import OutboxEvent
from ascolto.helpcenter import services as help_services
from ascolto.inbox.models import Conversation, ConversationEvent
from tests.accounts.factories import WorkspaceFactory
from tests.connectors.email.conftest import SmtpSink, mail

pytest.importorskip("lingua")

ACTOR = Actor.system("test")
LINK = re.compile(r"This answered my question: (\S+)")


@pytest.fixture
def smtp_server(settings: Any, free_port: int) -> Iterator[SmtpSink]:
    sink = SmtpSink(port=free_port)
    controller = Controller(sink, hostname="127.0.0.1", port=free_port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.ASCOLTO_EMAIL_RETRY_DELAYS = [0, 0]
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def _public_url(settings: Any) -> None:
    settings.ASCOLTO_PUBLIC_URL = "https://cx.example.com"


def publish(workspace: Any, slug: str, title: str, body: str) -> Any:
    article = help_services.article_create(
        workspace=workspace, actor=ACTOR, slug=slug, category=None
    )
    help_services.translation_save(
        article=article, actor=ACTOR, language="en", title=title, body_markdown=body
    )
    help_services.article_publish(article=article, actor=ACTOR)
    return article


@pytest.fixture
def returns_article(workspace: Any) -> Any:
    return publish(
        workspace,
        "returns",
        "Return an item",
        "You can return an item within 30 days: open your orders, choose the item and click "
        "Return.",
    )


@pytest.fixture
def mailbox(workspace: Any) -> Mailbox:
    mailbox = email_services.mailbox_create(
        workspace=workspace, name="Mail", address="support@shop.example", actor=ACTOR
    )
    AutoReplySettings.objects.create(
        workspace=workspace,
        inbox=mailbox.inbox,
        acknowledge=True,
        acknowledgement_texts={"en": "Thanks, we got your message."},
    )
    return mailbox


def receive(mailbox: Mailbox, capture: Any) -> Conversation:
    """An email received, the auto-reply handler run on its event, and what it queued (the SMTP
    send) run after commit, as the dispatcher and worker would."""
    with transaction.atomic():
        outcome = email_services.email_ingest(
            mailbox=mailbox,
            raw=mail(subject="Returns", body="Hello, how can I return an item I ordered?"),
            source="http",
        )
    assert outcome.message is not None
    event = OutboxEvent.objects.get(
        name="inbox.message.received", payload__message_id=outcome.message.pk
    )
    with capture(execute=True), transaction.atomic():
        auto_reply([event])
    return outcome.message.conversation


def report(workspace: Any) -> assistant_selectors.DeflectionReport:
    offer = DeflectionOffer.objects.get(workspace=workspace)
    return assistant_selectors.deflection_report(
        workspace=workspace,
        start=offer.created_at - dt.timedelta(minutes=1),
        end=offer.created_at + dt.timedelta(minutes=1),
        now=offer.created_at + dt.timedelta(days=2),
    )


def test_the_answered_link_in_the_email_resolves_the_conversation_once(
    workspace: Any,
    mailbox: Mailbox,
    returns_article: Any,
    smtp_server: SmtpSink,
    django_capture_on_commit_callbacks: Any,
) -> None:
    conversation = receive(mailbox, django_capture_on_commit_callbacks)

    [sent] = smtp_server.messages
    body = sent.get_content()
    assert (
        f"Return an item: https://cx.example.com/help/{workspace.slug}/en/a/return-an-item/" in body
    )
    [link] = LINK.findall(body)
    assert link.startswith("https://cx.example.com/deflection/answered/")
    path = link.removeprefix("https://cx.example.com")

    client = Client()
    page = client.get(path)  # a mail scanner opening the link changes nothing
    assert page.status_code == 200
    assert "Return an item" in page.content.decode()
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPEN
    assert DeflectionOffer.objects.get().confirmed_at is None

    done = client.post(path)
    again = client.post(path)

    assert done.status_code == again.status_code == 200
    assert "your request is closed" in again.content.decode()
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.RESOLVED
    event = ConversationEvent.objects.get(conversation=conversation, to_value="resolved")
    assert event.reason == "resolved by the customer with the article “Return an item”"
    offer = DeflectionOffer.objects.get()
    assert (offer.conversation_id, offer.confirmed_article_id) == (
        conversation.pk,
        returns_article.pk,
    )
    figures = report(workspace)
    assert (figures.offers, figures.confirmed, figures.assumed) == (1, 1, 0)
    email = figures.by_source["email"]
    assert (email.offers, email.confirmed, email.assumed) == (1, 1, 0)
    assert figures.by_source["widget"].offers == 0


def test_a_second_article_clicked_later_changes_nothing(
    workspace: Any, mailbox: Mailbox, returns_article: Any, django_capture_on_commit_callbacks: Any
) -> None:
    publish(
        workspace,
        "exchange",
        "Exchange an item you returned",
        "To return an item and exchange it, open your orders and choose Exchange.",
    )
    conversation = receive(mailbox, django_capture_on_commit_callbacks)
    offer = DeflectionOffer.objects.get()
    assert len(offer.article_ids) == 2
    first, second = (
        assistant_services.email_confirm_url(offer=offer, article_id=article_id).removeprefix(
            "https://cx.example.com"
        )
        for article_id in offer.article_ids
    )

    client = Client()
    client.post(first)
    client.post(second)

    offer.refresh_from_db()
    assert offer.confirmed_article_id == offer.article_ids[0]
    assert (
        ConversationEvent.objects.filter(conversation=conversation, to_value="resolved").count()
        == 1
    )


def test_a_forged_or_foreign_link_is_refused_and_changes_nothing(
    workspace: Any, mailbox: Mailbox, returns_article: Any, django_capture_on_commit_callbacks: Any
) -> None:
    conversation = receive(mailbox, django_capture_on_commit_callbacks)
    offer = DeflectionOffer.objects.get()
    good = assistant_services.email_confirm_url(offer=offer, article_id=returns_article.pk)
    token = good.rstrip("/").rsplit("/", 1)[1]
    tampered = signing.Signer(salt="something else").sign_object(
        {"w": workspace.pk, "o": offer.pk, "a": returns_article.pk}
    )
    other = WorkspaceFactory()
    foreign = signing.Signer(salt=assistant_selectors.EMAIL_CONFIRM_SALT).sign_object(
        {"w": other.pk, "o": offer.pk, "a": returns_article.pk}
    )
    not_offered = signing.Signer(salt=assistant_selectors.EMAIL_CONFIRM_SALT).sign_object(
        {"w": workspace.pk, "o": offer.pk, "a": returns_article.pk + 1000}
    )
    client = Client()
    for bad, status in (
        (token[:-2] + "xx", 400),
        (tampered, 400),
        (not_offered, 400),
        (foreign, 404),
        ("nonsense", 400),
    ):
        response = client.post(f"/deflection/answered/{bad}/")
        assert response.status_code == status, bad
        assert "This link is not valid" in response.content.decode() or status == 404

    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPEN
    assert DeflectionOffer.objects.get().confirmed_at is None
