"""The acknowledgement of a new email lists the help center's matching articles in the
customer's language, once per conversation, and records one deflection offer; automatic mail
gets nothing."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, cast

import pytest
from django.db import transaction

from ascolto.assistant import selectors as assistant_selectors
from ascolto.assistant.models import DeflectionOffer
from ascolto.connectors.email import services as email_services
from ascolto.connectors.email.models import Mailbox
from ascolto.connectors.settings_ui.handlers import auto_reply
from ascolto.connectors.settings_ui.models import AutoReplySent, AutoReplySettings
from ascolto.core.actors import Actor
from ascolto.core.models import OutboxEvent
from ascolto.helpcenter import services as help_services
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Conversation, Message
from tests.connectors.email.conftest import mail
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory

pytest.importorskip("lingua")

ACTOR = Actor.system("test")
HOST = "https://help.shop.example"
ACK = {"en": "Thanks, we got your message.", "it": "Grazie, abbiamo ricevuto il tuo messaggio."}
RETURNS = {
    "en": (
        "Return an item",
        "You can return an item within 30 days: open your orders, choose the item and click "
        "Return.",
    ),
    "it": (
        "Restituire un articolo",
        "Puoi restituire un articolo entro 30 giorni: apri i tuoi ordini, scegli l'articolo e "
        "fai clic su Restituisci.",
    ),
}


@pytest.fixture(autouse=True)
def _public_url(settings: Any) -> None:
    settings.ASCOLTO_PUBLIC_URL = HOST


@pytest.fixture
def returns_article(workspace: Any) -> Any:
    article = help_services.article_create(
        workspace=workspace, actor=ACTOR, slug="returns", category=None
    )
    for language, (title, body) in RETURNS.items():
        help_services.translation_save(
            article=article, actor=ACTOR, language=language, title=title, body_markdown=body
        )
    help_services.article_publish(article=article, actor=ACTOR)
    return article


@pytest.fixture
def mailbox(workspace: Any) -> Mailbox:
    mailbox = email_services.mailbox_create(
        workspace=workspace, name="Mail", address="support@shop.example", actor=ACTOR
    )
    AutoReplySettings.objects.create(
        workspace=workspace, inbox=mailbox.inbox, acknowledge=True, acknowledgement_texts=ACK
    )
    return mailbox


def ingest(mailbox: Mailbox, **fields: Any) -> Message:
    """An email received, and the auto-reply handler run on its event (as the dispatcher)."""
    with transaction.atomic():
        outcome = email_services.email_ingest(mailbox=mailbox, raw=mail(**fields), source="http")
    assert outcome.message is not None
    event = OutboxEvent.objects.get(
        name="inbox.message.received", payload__message_id=outcome.message.pk
    )
    with transaction.atomic():
        auto_reply([event])
    return outcome.message


def answers(conversation: Conversation) -> list[str]:
    return list(
        conversation.messages.filter(kind=Message.Kind.BOT)
        .order_by("id")
        .values_list("text", flat=True)
    )


def test_an_italian_email_gets_the_italian_article_once(
    workspace: Any, mailbox: Mailbox, returns_article: Any
) -> None:
    first = ingest(
        mailbox,
        subject="Reso di un articolo",
        body="Buongiorno, come posso restituire un articolo che ho ordinato?",
    )
    ingest(
        mailbox,
        subject="Re: Reso di un articolo",
        body="Vorrei anche sapere come restituire un secondo articolo.",
        message_id="<second@customer.example>",
        headers={"In-Reply-To": "<first@customer.example>"},
    )

    conversation = first.conversation
    assert Conversation.objects.filter(workspace=workspace).count() == 1
    [answer] = answers(conversation)
    assert answer.startswith(ACK["it"])
    assert "Questi articoli potrebbero già rispondere alla tua domanda:" in answer
    assert (
        f"Restituire un articolo: {HOST}/help/{workspace.slug}/it/a/restituire-un-articolo/"
        in answer
    )
    assert "/en/" not in answer
    assert AutoReplySent.objects.filter(conversation=conversation).count() == 1
    offer = DeflectionOffer.objects.get(workspace=workspace)
    assert (offer.source, offer.language, offer.customer_id) == (
        "email",
        "it",
        conversation.customer_id,
    )
    assert offer.article_ids == [returns_article.pk]
    report = assistant_selectors.deflection_report(
        workspace=workspace,
        start=offer.created_at - dt.timedelta(minutes=1),
        end=offer.created_at + dt.timedelta(minutes=1),
        now=offer.created_at + dt.timedelta(days=2),
    )
    assert (report.offers, report.assumed, report.followed_by_conversation) == (1, 1, 0)


def test_an_english_email_gets_the_english_article(
    workspace: Any, mailbox: Mailbox, returns_article: Any
) -> None:
    message = ingest(
        mailbox, subject="Returns", body="Hello, how can I return an item I ordered last week?"
    )
    [answer] = answers(message.conversation)
    assert answer.startswith(ACK["en"])
    assert "These articles may already answer your question:" in answer
    assert f"Return an item: {HOST}/help/{workspace.slug}/en/a/return-an-item/" in answer


def test_without_a_matching_article_just_the_acknowledgement(
    workspace: Any, mailbox: Mailbox, returns_article: Any
) -> None:
    message = ingest(
        mailbox,
        subject="Partnership",
        body="We would like to discuss a wholesale partnership for our garden centres.",
    )
    assert answers(message.conversation) == [ACK["en"]]
    assert not DeflectionOffer.objects.filter(workspace=workspace).exists()


def test_an_inbox_that_turns_suggestions_off_sends_only_its_text(
    workspace: Any, mailbox: Mailbox, returns_article: Any
) -> None:
    AutoReplySettings.objects.filter(inbox=mailbox.inbox).update(suggest_articles=False)
    message = ingest(mailbox, subject="Returns", body="How can I return an item I ordered?")
    assert answers(message.conversation) == [ACK["en"]]
    assert not DeflectionOffer.objects.filter(workspace=workspace).exists()


def test_without_a_text_of_its_own_the_inbox_sends_ours_with_the_articles(
    workspace: Any, mailbox: Mailbox, returns_article: Any
) -> None:
    AutoReplySettings.objects.filter(inbox=mailbox.inbox).update(acknowledgement_texts={})
    message = ingest(mailbox, subject="Returns", body="How can I return an item I ordered?")
    [answer] = answers(message.conversation)
    assert answer.startswith("We received your message and will answer soon.")
    assert f"{HOST}/help/{workspace.slug}/en/a/return-an-item/" in answer


@pytest.mark.parametrize(
    "headers", [{"Auto-Submitted": "auto-replied"}, {"Precedence": "bulk"}, {"List-Id": "<x.y>"}]
)
def test_automatic_and_bulk_mail_gets_nothing(
    workspace: Any, mailbox: Mailbox, returns_article: Any, headers: dict[str, str]
) -> None:
    message = ingest(
        mailbox, subject="Returns", body="How can I return an item I ordered?", headers=headers
    )
    assert answers(message.conversation) == []
    assert not DeflectionOffer.objects.filter(workspace=workspace).exists()


def test_mail_from_our_own_address_is_not_answered(
    workspace: Any, mailbox: Mailbox, returns_article: Any
) -> None:
    with transaction.atomic():
        outcome = email_services.email_ingest(
            mailbox=mailbox,
            raw=mail(sender="support@shop.example", body="How can I return an item?"),
            source="http",
        )
    assert outcome.message is None
    assert not Message.objects.filter(workspace=workspace, kind=Message.Kind.BOT).exists()
    assert not DeflectionOffer.objects.filter(workspace=workspace).exists()


def test_other_channels_get_no_articles(workspace: Any, returns_article: Any) -> None:
    sms: Any = InboxFactory(workspace=workspace, channel="sms")
    AutoReplySettings.objects.create(
        workspace=workspace, inbox=sms, acknowledge=True, acknowledgement_texts=ACK
    )
    with transaction.atomic():
        result = inbox_services.message_receive(
            inbox=sms,
            customer=cast(Any, CustomerFactory(workspace=workspace, locale="en")),
            text="How can I return an item I ordered?",
        )
    event = OutboxEvent.objects.get(
        name="inbox.message.received", payload__message_id=result.message.pk
    )
    with transaction.atomic():
        auto_reply([event])
    assert answers(result.message.conversation) == [ACK["en"]]
    assert not DeflectionOffer.objects.filter(workspace=workspace).exists()


def test_admins_turn_the_suggestions_off_on_the_page(admin_client: Any, mailbox: Mailbox) -> None:
    url = f"/settings/channels/{mailbox.inbox.pk}/auto-replies/"
    page = admin_client.get(url).content.decode()
    [checkbox] = re.findall(r'<input[^>]*name="suggest_articles"[^>]*>', page)
    assert "checked" in checkbox  # on by default
    form = {"business_hours": "", "acknowledge": "on", "ack_en": "Got it."}
    assert admin_client.post(url, form).status_code == 302
    assert not AutoReplySettings.objects.get(inbox=mailbox.inbox).suggest_articles
    assert admin_client.post(url, {**form, "suggest_articles": "on"}).status_code == 302
    assert AutoReplySettings.objects.get(inbox=mailbox.inbox).suggest_articles
