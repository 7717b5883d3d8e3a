"""Replies leave by SMTP (a real aiosmtpd server on loopback), threaded so clients group them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from ascolto.connectors.email import services
from ascolto.connectors.email.models import EmailMessageRecord, ThreadToken
from ascolto.core.actors import Actor
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Message
from tests.connectors.email.conftest import mail


def receive(mailbox: Any, raw: bytes) -> Message:
    with transaction.atomic():
        outcome = services.email_ingest(mailbox=mailbox, raw=raw, source="http")
    assert outcome.message is not None
    return outcome.message


@pytest.fixture
def reply(django_capture_on_commit_callbacks: Any, agent: Any) -> Callable[..., Message]:
    """An agent's reply, committed, with its outbox event dispatched (the SMTP job runs)."""

    def send(message: Message, kind: str = Message.Kind.OUTBOUND, text: str = "") -> Message:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            sent = inbox_services.message_send(
                conversation=message.conversation,
                author=agent,
                actor=Actor.for_user(agent),
                text=text or "We are sending it again today.",
                kind=kind,
            )
        sent.refresh_from_db()
        return sent

    return send


def test_an_agent_reply_is_sent_with_threading_headers_and_the_token(mailbox, reply, smtp):
    inbound = receive(
        mailbox,
        mail(headers={"References": "<older@customer.example>"}),
    )

    sent = reply(inbound)

    assert sent.delivery_status == "sent"
    assert len(smtp.messages) == 1
    out = smtp.messages[0]
    token = ThreadToken.objects.get(conversation=inbound.conversation).token
    record = EmailMessageRecord.objects.get(inbox_message=sent, direction="out")
    assert sent.provider_id == record.message_id == out["Message-ID"]
    assert out["In-Reply-To"] == "<first@customer.example>"
    assert out["References"] == "<older@customer.example> <first@customer.example>"
    assert out["Reply-To"] == f"support+{token}@shop.example"
    assert out["Subject"] == f"Re: Where is my order? [#{token}]"
    assert out["To"] == "anna@customer.example"
    assert "support@shop.example" in out["From"]
    assert "Shop Support" in out["From"]
    assert out.get_content().strip() == "We are sending it again today."
    assert smtp.envelopes[0].rcpt_tos == ["anna@customer.example"]
    assert bytes(record.raw).startswith(b"Content-Type") or b"Message-ID" in bytes(record.raw)


def test_the_customer_answering_our_reply_continues_the_conversation(mailbox, reply, smtp):
    inbound = receive(mailbox, mail())
    sent = reply(inbound)
    receive(mailbox, mail(subject="Another question", message_id="<other@customer.example>"))

    answer = receive(
        mailbox,
        mail(
            subject="Re: Where is my order?",
            message_id="<answer@customer.example>",
            headers={"In-Reply-To": sent.provider_id or ""},
        ),
    )

    assert answer.conversation_id == inbound.conversation_id


def test_a_permanent_refusal_fails_the_reply_visibly_without_retrying(mailbox, reply, smtp):
    smtp.refuse = "550 5.1.1 No such user here"
    inbound = receive(mailbox, mail())

    sent = reply(inbound)

    assert sent.delivery_status == "failed"
    assert "550" in sent.delivery_error
    assert "No such user here" in sent.delivery_error
    assert sent.delivery_error.endswith("(attempt 1 of 3)")


def test_a_temporary_refusal_is_retried_then_fails(mailbox, reply, smtp):
    smtp.refuse = "451 4.3.0 Try again later"
    inbound = receive(mailbox, mail())

    sent = reply(inbound)

    assert sent.delivery_status == "failed"
    assert "451" in sent.delivery_error
    assert sent.delivery_error.endswith("(attempt 3 of 3)")


def test_a_server_that_is_down_is_retried_and_the_reply_fails(mailbox, reply, settings, free_port):
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port  # nothing listens there
    inbound = receive(mailbox, mail())

    sent = reply(inbound)

    assert sent.delivery_status == "failed"
    assert "ConnectionRefusedError" in sent.delivery_error
    assert sent.delivery_error.endswith("(attempt 3 of 3)")


def test_a_retry_recovers_when_the_server_comes_back(mailbox, reply, smtp, settings):
    calls = {"n": 0}
    original = smtp.handle_RCPT

    async def flaky(*args: Any) -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            return "421 4.3.2 Busy"
        return await original(*args)

    smtp.handle_RCPT = flaky  # type: ignore[method-assign]
    inbound = receive(mailbox, mail())

    sent = reply(inbound)

    assert sent.delivery_status == "sent"
    assert len(smtp.messages) == 1
    # Every attempt used the same Message-ID.
    assert EmailMessageRecord.objects.filter(direction="out").count() == 1


def test_an_automatic_reply_to_machine_mail_is_never_sent(mailbox, reply, smtp):
    inbound = receive(mailbox, mail(headers={"Auto-Submitted": "auto-replied"}))

    bot = reply(inbound, kind=Message.Kind.BOT, text="Thanks for writing! (automatic)")

    assert smtp.messages == []
    assert bot.delivery_status == "failed"
    assert "automatic" in bot.delivery_error


def test_a_person_may_still_answer_machine_mail(mailbox, reply, smtp):
    inbound = receive(mailbox, mail(headers={"Precedence": "bulk"}))

    sent = reply(inbound)

    assert sent.delivery_status == "sent"
    assert len(smtp.messages) == 1
    assert "Auto-Submitted" not in smtp.messages[0]


def test_the_mailbox_own_smtp_server_is_used_when_set(mailbox, reply, smtp, settings):
    settings.EMAIL_PORT = 1  # the site's server is wrong; the mailbox names the right one
    mailbox.smtp_host = "127.0.0.1"
    mailbox.smtp_port = smtp.port
    mailbox.smtp_security = "none"
    mailbox.save()
    inbound = receive(mailbox, mail())

    sent = reply(inbound)

    assert sent.delivery_status == "sent"
    assert len(smtp.messages) == 1
