"""Automatic replies: outside business hours once per conversation in the customer's language,
an optional acknowledgement of each new conversation, never to automatic mail, never twice."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import transaction

from ascolto.connectors.email import services as email_services
from ascolto.connectors.settings_ui.handlers import auto_reply
from ascolto.connectors.settings_ui.models import AutoReplySent, AutoReplySettings
from ascolto.core import outbox
from ascolto.core.actors import Actor
from ascolto.core.models import OutboxEvent
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import BusinessHours, Conversation, Message
from tests.connectors.email.conftest import mail
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory

ROME = "Europe/Rome"
# Monday 2026-11-23: 10:00 in Rome is open, 21:00 closed; Saturday closed all day.
MONDAY_OPEN = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
MONDAY_EVENING = dt.datetime(2026, 11, 23, 20, 0, tzinfo=dt.UTC)
SATURDAY = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
AWAY = {"en": "We are closed; we answer from 9:00.", "it": "Siamo chiusi; rispondiamo dalle 9."}
ACK = {"en": "Thanks, we got your message.", "he": "תודה, קיבלנו את הודעתך."}


@pytest.fixture
def hours(workspace: Any) -> BusinessHours:
    weekday = [["09:00", "18:00"]]
    return BusinessHours.objects.create(
        workspace=workspace,
        name="Office",
        timezone=ROME,
        schedule={d: weekday for d in ("mon", "tue", "wed", "thu", "fri")} | {"sat": [], "sun": []},
    )


@pytest.fixture
def inbox(workspace: Any, hours: BusinessHours) -> Any:
    inbox = InboxFactory(workspace=workspace, channel="sms")
    AutoReplySettings.objects.create(
        workspace=workspace, inbox=inbox, business_hours=hours, away_texts=AWAY
    )
    return inbox


def receive(inbox: Any, customer: Any, when: dt.datetime, **extra: Any) -> tuple[Message, Any]:
    """A customer message, and the handler run on each of its received events (as dispatch)."""
    with transaction.atomic():
        result = inbox_services.message_receive(
            inbox=inbox, customer=customer, text="Hello?", occurred_at=when, **extra
        )
    event = OutboxEvent.objects.filter(
        name="inbox.message.received", payload__message_id=result.message.pk
    ).get()
    with transaction.atomic():
        auto_reply([event])
    return result.message, event


def bot_messages(conversation: Conversation) -> list[Message]:
    return list(conversation.messages.filter(kind=Message.Kind.BOT).order_by("id"))


def test_the_handler_follows_every_inbound_message() -> None:
    ids = [handler_id for handler_id, _f in outbox.handlers_for("inbox.message.received")]
    assert "ascolto.connectors.settings_ui.handlers.auto_reply" in ids


def test_outside_hours_the_customer_gets_the_away_text_once(inbox: Any, workspace: Any) -> None:
    customer = CustomerFactory(workspace=workspace, locale="it")
    first, event = receive(inbox, customer, MONDAY_EVENING)
    receive(inbox, customer, MONDAY_EVENING + dt.timedelta(minutes=5))
    with transaction.atomic():
        auto_reply([event])  # a redelivered event
    [answer] = bot_messages(first.conversation)
    assert answer.text == AWAY["it"]
    assert answer.delivery_status == Message.Delivery.QUEUED
    sent = AutoReplySent.objects.get(conversation=first.conversation)
    assert sent.kind == "away"
    assert sent.message_id == answer.pk


def test_within_hours_nothing_is_sent_without_acknowledgement(inbox: Any, workspace: Any) -> None:
    message, _event = receive(inbox, CustomerFactory(workspace=workspace), MONDAY_OPEN)
    assert bot_messages(message.conversation) == []


def test_saturday_and_holidays_are_outside_hours(
    inbox: Any, workspace: Any, hours: BusinessHours
) -> None:
    message, _ = receive(inbox, CustomerFactory(workspace=workspace, locale="fr"), SATURDAY)
    assert [m.text for m in bot_messages(message.conversation)] == [AWAY["en"]]  # fallback
    hours.holidays = ["2026-11-23"]
    hours.save()
    other, _ = receive(inbox, CustomerFactory(workspace=workspace), MONDAY_OPEN)
    assert len(bot_messages(other.conversation)) == 1


def test_acknowledgement_of_each_new_conversation_within_hours(inbox: Any, workspace: Any) -> None:
    AutoReplySettings.objects.filter(inbox=inbox).update(
        acknowledge=True, acknowledgement_texts=ACK
    )
    customer = CustomerFactory(workspace=workspace, locale="he")
    first, _ = receive(inbox, customer, MONDAY_OPEN)
    receive(inbox, customer, MONDAY_OPEN + dt.timedelta(minutes=1))  # same conversation
    assert [m.text for m in bot_messages(first.conversation)] == [ACK["he"]]


def test_an_inbox_without_settings_or_texts_sends_nothing(workspace: Any) -> None:
    plain = InboxFactory(workspace=workspace, channel="sms")
    message, _ = receive(plain, CustomerFactory(workspace=workspace), SATURDAY)
    assert bot_messages(message.conversation) == []
    empty = InboxFactory(workspace=workspace, channel="sms")
    AutoReplySettings.objects.create(workspace=workspace, inbox=empty, away_texts={"en": "  "})
    message, _ = receive(empty, CustomerFactory(workspace=workspace), SATURDAY)
    assert bot_messages(message.conversation) == []


def test_automatic_and_bulk_mail_is_never_answered(workspace: Any, hours: BusinessHours) -> None:
    mailbox = email_services.mailbox_create(
        workspace=workspace, name="Mail", address="support@shop.example", actor=Actor.system("t")
    )
    AutoReplySettings.objects.create(
        workspace=workspace, inbox=mailbox.inbox, business_hours=hours, away_texts=AWAY
    )
    answered: list[int] = []
    for n, headers in enumerate(({"Auto-Submitted": "auto-replied"}, {"Precedence": "bulk"}, {})):
        raw = mail(
            message_id=f"<m{n}@customer.example>", subject=f"Subject {n}", headers=headers
        ).replace(b"Mon, 23 Nov 2026 09:00:00", b"Sat, 21 Nov 2026 10:00:00")
        with transaction.atomic():
            outcome = email_services.email_ingest(mailbox=mailbox, raw=raw, source="http")
        assert outcome.message is not None
        event = OutboxEvent.objects.get(
            name="inbox.message.received", payload__message_id=outcome.message.pk
        )
        with transaction.atomic():
            auto_reply([event])
        answered.append(len(bot_messages(outcome.message.conversation)))
    assert answered == [0, 0, 1]


def test_admins_set_hours_and_texts_on_the_page(
    admin_client: Any, agent_client: Any, inbox: Any, hours: BusinessHours, other_workspace: Any
) -> None:
    url = f"/settings/channels/{inbox.pk}/auto-replies/"
    assert agent_client.get(url).status_code == 403
    page = admin_client.get(url).content.decode()
    assert "Office" in page
    assert AWAY["it"] in page
    form = {
        "business_hours": str(hours.pk),
        "away_en": "Closed.",
        "away_it": "",
        "away_he": "סגור.",
        "acknowledge": "on",
        "ack_en": "Got it.",
    }
    assert admin_client.post(url, form).status_code == 302
    settings = AutoReplySettings.objects.get(inbox=inbox)
    assert settings.away_texts == {"en": "Closed.", "he": "סגור."}
    assert settings.acknowledge
    assert settings.acknowledgement_texts == {"en": "Got it."}
    foreign = BusinessHours.objects.create(workspace=other_workspace, name="Theirs", schedule={})
    refused = admin_client.post(url, {**form, "business_hours": str(foreign.pk)})
    assert refused.status_code == 400
    assert "Select a valid choice" in refused.content.decode()
