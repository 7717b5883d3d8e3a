"""Surveys asked in an SMS or WhatsApp conversation and answered by reply: the invitation goes out
through the inbox (to a fake Twilio on 127.0.0.1), a number in range is recorded once, anything
else gets one clarification, and consent, expiry and language are respected."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from django.db import transaction
from django.utils import timezone

from ascolto.connectors.twilio import services as twilio_services
from ascolto.connectors.twilio.models import TwilioAccount
from ascolto.core.actors import Actor
from ascolto.customers import services as customer_services
from ascolto.customers.models import Customer
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Conversation, Message
from ascolto.surveys import services
from ascolto.surveys.models import Invitation, Response, Survey
from tests.connectors.twilio.conftest import make_account
from tests.connectors.twilio.fakes import FakeProvider, twilio_default
from tests.surveys.factories import SYSTEM, dispatch_pending, make_survey

pytestmark = pytest.mark.django_db

PHONE = "+393331234567"


@pytest.fixture(autouse=True)
def _messaging(settings: Any) -> None:
    settings.ASCOLTO_MESSAGING_RETRY_DELAYS = [0, 0]
    settings.ASCOLTO_MESSAGING_TIMEOUT = 2.0
    settings.ASCOLTO_PUBLIC_URL = "https://cx.example.com"


@pytest.fixture
def fake_twilio(settings: Any) -> Iterator[FakeProvider]:
    """Twilio's Messages API on 127.0.0.1 (the network boundary)."""
    fake = FakeProvider(twilio_default)
    settings.ASCOLTO_TWILIO_API_BASE = fake.url
    yield fake
    fake.close()


@pytest.fixture
def account(workspace: Any) -> TwilioAccount:
    return make_account(workspace, "+390212345678")


def customer_on(account: TwilioAccount, *, locale: str = "en", consent: bool = True) -> Customer:
    customer = twilio_services.customer_for_phone(
        workspace=account.workspace, number=PHONE, whatsapp=False, actor=SYSTEM
    )
    Customer.objects.filter(pk=customer.pk).update(locale=locale)
    customer.refresh_from_db()
    if consent:
        customer_services.consent_set(
            customer=customer, purpose="surveys", channel="sms", granted=True, actor=SYSTEM
        )
    return customer


def receive(account: TwilioAccount, customer: Customer, text: str, sid: str) -> Message:
    with transaction.atomic():
        result = inbox_services.message_receive(
            inbox=account.inbox, customer=customer, text=text, provider_id=sid
        )
    dispatch_pending()
    return result.message


def resolved_conversation(account: TwilioAccount, customer: Customer) -> Conversation:
    """The customer wrote, an agent resolved the conversation: the survey is scheduled."""
    conversation = receive(account, customer, "Where is my parcel?", "SMfirst").conversation
    inbox_services.conversation_set_status(
        conversation=conversation,
        status=Conversation.Status.RESOLVED,
        actor=Actor.system("agent"),
    )
    dispatch_pending()
    conversation.refresh_from_db()
    return conversation


def send_due() -> int:
    sent = 0
    for invitation_id in services.due_invitation_ids():
        with transaction.atomic():
            sent += services.invitation_send_due(invitation_id=invitation_id)
    dispatch_pending()
    return sent


def bodies(fake: Any) -> list[str]:
    return [parse_qs(r.body.decode())["Body"][0] for r in fake.requests]


def invited(
    workspace: Any, account: TwilioAccount, *, kind: str = "nps", locale: str = "en", **kw: Any
) -> tuple[Survey, Customer, Invitation]:
    survey = make_survey(
        workspace,
        kind,
        trigger=Survey.Trigger.CONVERSATION_RESOLVED,
        delay_minutes=0,
        **kw,
    )
    customer = customer_on(account, locale=locale)
    conversation = resolved_conversation(account, customer)
    assert send_due() == 1
    invitation = Invitation.objects.get(survey=survey, conversation=conversation)
    return survey, customer, invitation


def test_the_invitation_goes_out_as_an_sms_with_the_first_question(workspace, account, fake_twilio):
    _survey, _customer, invitation = invited(workspace, account)

    assert invitation.channel == "sms"
    assert invitation.status == "sent"
    assert invitation.expires_at is not None
    assert len(fake_twilio.requests) == 1
    form = {k: v[0] for k, v in parse_qs(fake_twilio.requests[0].body.decode()).items()}
    assert form["To"] == PHONE
    assert "Reply with a number from 0 to 10." in form["Body"]
    assert form["Body"].startswith("Tell us how we did.")
    message = Message.objects.get(pk=invitation.context["message_id"])
    assert message.kind == Message.Kind.BOT
    assert message.delivery_status == Message.Delivery.SENT
    # The conversation stays resolved: the invitation is not a new case.
    assert message.conversation.status == Conversation.Status.RESOLVED


def test_a_number_in_range_records_the_answer_and_thanks_with_the_link(
    workspace, account, fake_twilio
):
    _survey, customer, invitation = invited(workspace, account)

    message = receive(account, customer, " 9 ", "SManswer")

    response = Response.objects.get(invitation=invitation)
    assert response.nps_score == 9
    assert response.channel == "sms"
    invitation.refresh_from_db()
    assert invitation.answered_at is not None
    assert invitation.context["answered_by"] == message.pk
    thanks = bodies(fake_twilio)[-1]
    assert len(fake_twilio.requests) == 2
    # The "why?" is left for the survey page, which the link opens.
    assert not response.completed
    assert thanks.startswith("Thank you! Tell us why, and the rest, here: https://cx.example.com/")
    # The answer reopened the conversation; it is resolved again, not left in the queue.
    conversation = Conversation.objects.get(pk=message.conversation_id)
    assert conversation.status == Conversation.Status.RESOLVED
    assert conversation.assignee_id is None
    # Resolving it again asks no new survey.
    assert Invitation.objects.filter(customer=customer).count() == 1


def test_a_provider_retry_of_the_answer_records_and_thanks_once(workspace, account, fake_twilio):
    _survey, customer, invitation = invited(workspace, account)

    receive(account, customer, "8", "SManswer")
    receive(account, customer, "8", "SManswer")  # Twilio delivers the same MessageSid again
    later = receive(account, customer, "3", "SMlater")  # a second answer is a plain message

    assert Response.objects.filter(invitation=invitation).count() == 1
    assert Response.objects.get(invitation=invitation).nps_score == 8
    assert len(fake_twilio.requests) == 2  # the invitation and one thank-you
    assert Conversation.objects.get(pk=later.conversation_id).status == "open"
    # Handling the same message again (an at-least-once redelivery) changes nothing.
    outcome = services_reply(later)
    assert outcome == "none"


def services_reply(message: Message) -> str:
    from ascolto.surveys.services import distribution

    with transaction.atomic():
        return distribution.reply_handle(message=message).outcome


def test_out_of_range_gets_one_clarification_then_the_invitation_is_left_alone(
    workspace, account, fake_twilio
):
    _survey, customer, invitation = invited(workspace, account, kind="csat")
    assert "Reply with a number from 1 to 5." in bodies(fake_twilio)[0]

    receive(account, customer, "9", "SMbad1")
    assert bodies(fake_twilio)[-1] == (
        "To answer the survey, please reply with just a number from 1 to 5."
    )
    receive(account, customer, "0", "SMbad2")
    receive(account, customer, "4", "SMlate")

    assert len(fake_twilio.requests) == 2  # invitation and one clarification, nothing more
    assert not Response.objects.filter(invitation=invitation).exists()
    invitation.refresh_from_db()
    assert invitation.answered_at is None
    assert "released_by" in invitation.context


def test_a_text_reply_is_clarified_and_a_number_after_it_still_answers(
    workspace, account, fake_twilio
):
    _survey, customer, invitation = invited(workspace, account, kind="ces")

    first = receive(account, customer, "It was fine, thanks", "SMtext")
    receive(account, customer, "2", "SMnum")

    assert bodies(fake_twilio)[1] == (
        "To answer the survey, please reply with just a number from 1 to 7."
    )
    assert Response.objects.get(invitation=invitation).ces_score == 2
    # The text itself stays a message an agent can read (it may be a question).
    assert Message.objects.filter(pk=first.pk, kind=Message.Kind.INBOUND).exists()


def test_an_expired_invitation_is_not_answered_by_reply(workspace, account, fake_twilio):
    _survey, customer, invitation = invited(workspace, account)
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )

    message = receive(account, customer, "10", "SMlate")

    assert not Response.objects.filter(invitation=invitation).exists()
    assert len(fake_twilio.requests) == 1  # no thanks, no clarification
    # An ordinary message: the conversation is open for an agent.
    assert Conversation.objects.get(pk=message.conversation_id).status == "open"


def test_without_sms_survey_consent_nothing_is_sent(workspace, account, fake_twilio):
    survey = make_survey(
        workspace, "nps", trigger=Survey.Trigger.CONVERSATION_RESOLVED, delay_minutes=0
    )
    customer = customer_on(account, consent=False)
    customer_services.consent_set(
        customer=customer, purpose="surveys", channel="email", granted=True, actor=SYSTEM
    )
    resolved_conversation(account, customer)

    assert send_due() == 0
    invitation = Invitation.objects.get(survey=survey, customer=customer)
    assert (invitation.channel, invitation.status, invitation.skip_reason) == (
        "sms",
        "skipped",
        "no_consent",
    )
    assert fake_twilio.requests == []


def test_consent_withdrawn_before_sending_skips_the_invitation(workspace, account, fake_twilio):
    survey = make_survey(
        workspace, "nps", trigger=Survey.Trigger.CONVERSATION_RESOLVED, delay_minutes=0
    )
    customer = customer_on(account)
    resolved_conversation(account, customer)
    customer_services.consent_set(
        customer=customer, purpose="surveys", channel="sms", granted=False, actor=SYSTEM
    )

    assert send_due() == 0
    assert Invitation.objects.get(survey=survey).skip_reason == "no_consent"
    assert fake_twilio.requests == []


def test_an_sms_invitation_needs_a_conversation_of_its_channel(workspace, account):
    survey = make_survey(workspace, "nps")
    customer = customer_on(account)

    invitation = services.invitation_create(survey=survey, customer=customer, channel="sms")

    assert (invitation.status, invitation.skip_reason) == ("skipped", "no_address")


def test_the_suppression_window_applies_to_sms_invitations(workspace, account, fake_twilio):
    services.settings_update(workspace=workspace, actor=SYSTEM, suppression_days=30)
    first, second = (
        make_survey(workspace, kind, trigger=Survey.Trigger.CONVERSATION_RESOLVED, delay_minutes=0)
        for kind in ("csat", "nps")
    )
    customer = customer_on(account)
    resolved_conversation(account, customer)

    assert send_due() == 1
    asked, skipped = (Invitation.objects.get(survey=s) for s in (first, second))
    assert (asked.channel, asked.status) == ("sms", "sent")
    assert (skipped.channel, skipped.status, skipped.skip_reason) == (
        "sms",
        "skipped",
        "suppressed",
    )
    assert len(fake_twilio.requests) == 1


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("it", "Rispondi con un numero da 0 a 10."),
        ("he", "השיבו במספר בין 0 ל-10."),
    ],
)
def test_the_invitation_and_thanks_are_in_the_customer_language(
    workspace, account, fake_twilio, locale, expected
):
    survey, customer, invitation = invited(workspace, account, locale=locale)
    assert invitation.language == locale
    invitation_text = bodies(fake_twilio)[0]
    assert expected in invitation_text
    title = survey.translations[locale]["title"]
    assert invitation_text.startswith(title)

    receive(account, customer, "abc", "SMtext")
    receive(account, customer, "7", "SMnum")

    clarification, thanks = bodies(fake_twilio)[1:]
    if locale == "it":
        assert clarification == (
            "Per rispondere al sondaggio, rispondi solo con un numero da 0 a 10."
        )
        assert thanks.startswith("Grazie!")
    else:
        assert clarification == "כדי לענות על הסקר, השיבו במספר בלבד בין 0 ל-10."
        assert thanks.startswith("תודה!")
    assert Response.objects.get(invitation=invitation).nps_score == 7


def test_a_whatsapp_conversation_is_asked_and_answered_on_whatsapp(workspace, fake_twilio):
    account = make_account(workspace, "whatsapp:+390212345679")
    survey = make_survey(
        workspace, "nps", trigger=Survey.Trigger.CONVERSATION_RESOLVED, delay_minutes=0
    )
    customer = twilio_services.customer_for_phone(
        workspace=workspace, number=PHONE, whatsapp=True, actor=SYSTEM
    )
    customer_services.consent_set(
        customer=customer, purpose="surveys", channel="whatsapp", granted=True, actor=SYSTEM
    )
    resolved_conversation(account, customer)

    assert send_due() == 1
    receive(account, customer, "10", "SMwa")

    invitation = Invitation.objects.get(survey=survey)
    assert invitation.channel == "whatsapp"
    assert Response.objects.get(invitation=invitation).nps_score == 10
    recipients = [parse_qs(r.body.decode())["To"][0] for r in fake_twilio.requests]
    assert recipients == [f"whatsapp:{PHONE}"] * 2


def test_an_answer_by_reply_is_not_a_request_it_reopens_routes_and_auto_answers_nothing(
    workspace, account, fake_twilio
):
    from ascolto.assistant.models import AssistantSettings, BotSession, MessageTriage
    from ascolto.connectors.settings_ui import autoreply
    from ascolto.connectors.settings_ui.models import AutoReplySettings
    from ascolto.core.models import OutboxEvent
    from ascolto.inbox.models import ConversationEvent

    AutoReplySettings.objects.create(
        workspace=workspace,
        inbox=account.inbox,
        acknowledge=True,
        acknowledgement_texts={"en": "We got your message."},
    )
    AssistantSettings.objects.create(workspace=workspace, enabled=True, channels=["sms"])
    _survey, customer, invitation = invited(workspace, account)
    conversation = Conversation.objects.get(pk=invitation.conversation_id)

    answer = receive(account, customer, "8", "SMquiet")

    assert answer.metadata["not_a_request"] == "survey_answer"
    assert answer.conversation_id == conversation.pk
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.RESOLVED
    assert conversation.reopen_count == 0
    assert not ConversationEvent.objects.filter(
        conversation=conversation, kind=ConversationEvent.Kind.REOPENED
    ).exists()
    event = OutboxEvent.objects.get(name="inbox.message.received", payload__message_id=answer.pk)
    assert event.payload["not_a_request"] is True
    assert autoreply.auto_reply_for(message=answer, conversation_created=True) is None
    assert not MessageTriage.objects.filter(message=answer).exists()  # the assistant left it
    assert not BotSession.objects.filter(conversation=conversation, last_message_id=answer.pk)
    assert Response.objects.get(invitation=invitation).nps_score == 8
    # A question in words is a request as usual: it reopens the conversation.
    question = receive(account, customer, "and my refund?", "SMwords")
    assert "not_a_request" not in question.metadata
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPEN
