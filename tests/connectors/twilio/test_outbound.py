"""Agents' replies in SMS and WhatsApp inboxes go out through Twilio's Messages API (a fake
Twilio on 127.0.0.1): authenticated, retried with backoff on 5xx and dropped connections, and
dead-lettered as "failed" with the last error the agent sees."""

from __future__ import annotations

import base64
import socket
from urllib.parse import parse_qs

import pytest

from ascolto.connectors.twilio import services, tasks
from ascolto.core.actors import Actor
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Message
from tests.connectors.twilio.conftest import AUTH_TOKEN
from tests.connectors.twilio.fakes import Answer

pytestmark = pytest.mark.django_db


def conversation_with(account, number="+393331234567"):
    customer = services.customer_for_phone(
        workspace=account.workspace,
        number=number,
        whatsapp=account.is_whatsapp,
        actor=Actor.system(),
    )
    return inbox_services.message_receive(
        inbox=account.inbox, customer=customer, text="Ciao", provider_id="SMin"
    ).conversation


def reply(conversation, agent, capture, text="Arriva domani"):
    with capture(execute=True):
        message = inbox_services.message_send(
            conversation=conversation, author=agent, actor=Actor.for_user(agent), text=text
        )
    message.refresh_from_db()
    return message


def test_an_sms_reply_is_sent_through_the_messages_api(
    sms, agent, fake_twilio, django_capture_on_commit_callbacks, settings
):
    settings.ASCOLTO_PUBLIC_URL = "https://cx.example.com"
    message = reply(conversation_with(sms), agent, django_capture_on_commit_callbacks)

    assert len(fake_twilio.requests) == 1
    request = fake_twilio.requests[0]
    assert request.path == f"/2010-04-01/Accounts/{sms.account_sid}/Messages.json"
    user, _, password = (
        base64.b64decode(request.headers["Authorization"][6:]).decode().partition(":")
    )
    assert (user, password) == (sms.account_sid, AUTH_TOKEN)
    form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
    assert form["To"] == "+393331234567"
    assert form["From"] == "+390212345678"
    assert form["Body"] == "Arriva domani"
    assert form["StatusCallback"] == f"https://cx.example.com/connectors/twilio/{sms.pk}/status"
    assert message.delivery_status == "sent"
    assert message.provider_id == "SM" + "1".zfill(32)


def test_a_whatsapp_reply_goes_to_the_whatsapp_address(
    whatsapp, agent, fake_twilio, django_capture_on_commit_callbacks
):
    reply(conversation_with(whatsapp), agent, django_capture_on_commit_callbacks)

    form = {k: v[0] for k, v in parse_qs(fake_twilio.requests[0].body.decode()).items()}
    assert form["To"] == "whatsapp:+393331234567"
    assert form["From"] == "whatsapp:+390212345679"
    assert "StatusCallback" not in form  # no public URL configured


def test_a_server_error_is_retried_until_sent(
    sms, agent, fake_twilio, django_capture_on_commit_callbacks
):
    fake_twilio.answer(Answer(503, {"message": "busy"}), Answer(500, {}))
    message = reply(conversation_with(sms), agent, django_capture_on_commit_callbacks)

    assert len(fake_twilio.requests) == 3
    assert len({r.body for r in fake_twilio.requests}) == 1  # the same request each time
    assert message.delivery_status == "sent"


def test_after_the_last_attempt_the_reply_is_failed_with_the_last_error(
    sms, agent, fake_twilio, django_capture_on_commit_callbacks
):
    fake_twilio.answer(*[Answer(503, {"code": 20503, "message": "Service unavailable"})] * 3)
    message = reply(conversation_with(sms), agent, django_capture_on_commit_callbacks)

    assert len(fake_twilio.requests) == 3
    assert message.delivery_status == "failed"
    assert "HTTP 503" in message.delivery_error
    assert "Service unavailable (code 20503)" in message.delivery_error
    assert "attempt 3 of 3" in message.delivery_error


def test_a_refused_request_is_not_retried(
    sms, agent, fake_twilio, django_capture_on_commit_callbacks
):
    fake_twilio.answer(Answer(400, {"code": 21211, "message": "Invalid 'To' Phone Number"}))
    message = reply(conversation_with(sms), agent, django_capture_on_commit_callbacks)

    assert len(fake_twilio.requests) == 1
    assert message.delivery_status == "failed"
    assert "Invalid 'To' Phone Number (code 21211)" in message.delivery_error


def test_an_unreachable_api_ends_failed_after_the_retries(
    sms, agent, settings, django_capture_on_commit_callbacks
):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.ASCOLTO_TWILIO_API_BASE = f"http://127.0.0.1:{port}"  # nobody listens there
    message = reply(conversation_with(sms), agent, django_capture_on_commit_callbacks)

    assert message.delivery_status == "failed"
    assert "Could not connect" in message.delivery_error


def test_a_reply_already_sent_is_not_sent_again(
    sms, agent, fake_twilio, django_capture_on_commit_callbacks
):
    message = reply(conversation_with(sms), agent, django_capture_on_commit_callbacks)
    assert tasks.send_reply.call_local(message.pk) == "skipped"  # the job run again
    assert len(fake_twilio.requests) == 1
    assert Message.objects.get(pk=message.pk).delivery_status == "sent"


def test_replies_in_other_inboxes_are_left_alone(
    workspace, agent, fake_twilio, django_capture_on_commit_callbacks
):
    from tests.customers.factories import CustomerFactory
    from tests.inbox.factories import InboxFactory

    inbox = InboxFactory(workspace=workspace, channel="sms")  # no Twilio account
    customer = CustomerFactory(workspace=workspace)
    conversation = inbox_services.message_receive(
        inbox=inbox, customer=customer, text="hi"
    ).conversation
    message = reply(conversation, agent, django_capture_on_commit_callbacks)

    assert fake_twilio.requests == []
    assert message.delivery_status == "queued"


def test_a_customer_without_a_number_fails_with_the_reason(
    sms, agent, fake_twilio, django_capture_on_commit_callbacks
):
    from tests.customers.factories import CustomerFactory

    customer = CustomerFactory(workspace=sms.workspace)  # known by email only, say
    conversation = inbox_services.message_receive(
        inbox=sms.inbox, customer=customer, text="hi"
    ).conversation
    message = reply(conversation, agent, django_capture_on_commit_callbacks)

    assert fake_twilio.requests == []
    assert message.delivery_status == "failed"
    assert "no phone number" in message.delivery_error
