"""Taking mail in: customers by email identity, threading, idempotency, attachments, noise."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest
from django.db import transaction
from django.utils import translation

from ascolto.connectors.email import services
from ascolto.connectors.email.models import (
    BouncedAddress,
    EmailMessageRecord,
    Mailbox,
    ThreadToken,
)
from ascolto.core.actors import Actor
from ascolto.core.errors import ValidationFailed
from ascolto.customers.models import Identity
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Attachment, Conversation, Message
from tests.connectors.email.conftest import mail


def ingest(mailbox: Any, raw: bytes) -> services.IngestOutcome:
    with transaction.atomic():
        return services.email_ingest(mailbox=mailbox, raw=raw, source="http")


def test_a_new_mail_opens_a_conversation_for_the_sender_found_by_email(mailbox):
    outcome = ingest(mailbox, mail())

    assert outcome.created
    message = outcome.message
    assert message is not None
    assert message.text == "Hello, my order 1042 has not arrived."
    assert message.provider_id == "<first@customer.example>"
    conversation = message.conversation
    assert conversation.inbox_id == mailbox.inbox_id
    assert conversation.subject == "Where is my order?"
    identity = Identity.objects.get(workspace=mailbox.workspace, kind="email")
    assert identity.value == "anna@customer.example"
    assert identity.customer.name == "Anna Rossi"
    assert conversation.customer_id == identity.customer_id
    assert bytes(outcome.record.raw) == mail()


def test_the_same_mail_twice_is_stored_once(mailbox):
    first = ingest(mailbox, mail())
    second = ingest(mailbox, mail())

    assert first.created
    assert not second.created
    assert second.record.pk == first.record.pk
    assert Message.objects.filter(inbox=mailbox.inbox).count() == 1
    assert EmailMessageRecord.objects.filter(mailbox=mailbox).count() == 1


def test_a_mail_without_message_id_is_deduplicated_by_its_bytes(mailbox):
    raw = mail().replace(b"Message-ID: <first@customer.example>\n", b"")
    assert b"Message-ID" not in raw

    first = ingest(mailbox, raw)
    second = ingest(mailbox, raw)

    assert first.created
    assert not second.created
    assert first.record.message_id.endswith("@no-message-id.invalid>")
    assert Message.objects.filter(inbox=mailbox.inbox).count() == 1


def test_a_reply_by_in_reply_to_continues_the_conversation_even_if_another_is_open(mailbox):
    first = ingest(mailbox, mail())
    other = ingest(mailbox, mail(subject="Invoice request", message_id="<other@customer.example>"))
    reply = ingest(
        mailbox,
        mail(
            subject="Re: Where is my order?",
            message_id="<reply@customer.example>",
            headers={"In-Reply-To": "<first@customer.example>"},
        ),
    )

    assert other.message is not None
    assert first.message is not None
    assert reply.message is not None
    assert other.message.conversation_id != first.message.conversation_id
    assert reply.message.conversation_id == first.message.conversation_id
    assert Conversation.objects.filter(inbox=mailbox.inbox).count() == 2


def test_a_reply_by_references_only_is_threaded(mailbox):
    first = ingest(mailbox, mail())
    ingest(mailbox, mail(subject="Something else", message_id="<x@customer.example>"))
    reply = ingest(
        mailbox,
        mail(
            subject="Re: Where is my order?",
            message_id="<reply@customer.example>",
            headers={"References": "<unknown@elsewhere> <first@customer.example>"},
        ),
    )
    assert reply.message is not None
    assert first.message is not None
    assert reply.message.conversation_id == first.message.conversation_id


def test_a_new_subject_from_the_same_person_is_a_new_conversation(mailbox):
    first = ingest(mailbox, mail())
    second = ingest(
        mailbox, mail(subject="Change my address", message_id="<second@customer.example>")
    )

    assert first.message is not None
    assert second.message is not None
    assert first.message.conversation_id != second.message.conversation_id


def test_a_reply_without_headers_is_threaded_by_the_token_in_the_reply_address(mailbox):
    first = ingest(mailbox, mail())
    assert first.message is not None
    token = ThreadToken.objects.create(
        workspace=mailbox.workspace,
        mailbox=mailbox,
        conversation=first.message.conversation,
        token="abcdefghij",
    )
    ingest(mailbox, mail(subject="Another topic", message_id="<b@customer.example>"))
    reply = ingest(
        mailbox,
        mail(
            to=f"support+{token.token}@shop.example",
            subject="completely new words",
            message_id="<c@customer.example>",
        ),
    )
    assert reply.message is not None
    assert reply.message.conversation_id == first.message.conversation_id


def test_a_reply_without_headers_is_threaded_by_the_token_in_the_subject(mailbox):
    first = ingest(mailbox, mail())
    assert first.message is not None
    ThreadToken.objects.create(
        workspace=mailbox.workspace,
        mailbox=mailbox,
        conversation=first.message.conversation,
        token="k2m3n4p5q6",
    )
    ingest(mailbox, mail(subject="Another topic", message_id="<b@customer.example>"))
    reply = ingest(
        mailbox,
        mail(subject="Re: something [#K2M3N4P5Q6]", message_id="<c@customer.example>"),
    )
    assert reply.message is not None
    assert reply.message.conversation_id == first.message.conversation_id


def test_a_reply_to_a_resolved_conversation_reopens_it_instead_of_a_duplicate(mailbox, agent):
    first = ingest(mailbox, mail())
    assert first.message is not None
    conversation = first.message.conversation
    with transaction.atomic():
        inbox_services.conversation_set_status(
            conversation=conversation,
            status="closed",
            actor=Actor.for_user(agent),
        )
    reply = ingest(
        mailbox,
        mail(
            message_id="<late@customer.example>",
            subject="Re: Where is my order?",
            headers={"In-Reply-To": "<first@customer.example>"},
        ),
    )

    assert reply.message is not None
    assert reply.message.conversation_id == conversation.pk
    conversation.refresh_from_db()
    assert conversation.status == "open"
    assert Conversation.objects.filter(inbox=mailbox.inbox).count() == 1


def test_threading_never_follows_a_message_id_of_another_workspace(mailbox, other_workspace):
    other = services.mailbox_create(
        workspace=other_workspace,
        name="Other",
        address="help@other.example",
        actor=Actor.system(),
    )
    theirs = ingest(other, mail(to="help@other.example"))
    ours = ingest(
        mailbox,
        mail(
            message_id="<mine@customer.example>",
            subject="Re: Where is my order?",
            headers={"In-Reply-To": "<first@customer.example>"},
        ),
    )
    assert theirs.message is not None
    assert ours.message is not None
    assert ours.message.conversation.workspace_id == mailbox.workspace_id
    assert ours.message.conversation_id != theirs.message.conversation_id


def test_quoted_reply_and_signature_stay_out_of_the_text_and_the_original_is_kept(mailbox):
    body = (
        "Yes, please send it again.\n\n-- \nAnna Rossi\nCustomer since 2019\n\n"
        "On Mon, 23 Nov 2026 at 10:00, Shop Support <support@shop.example> wrote:\n"
        "> Shall we send the parcel again?\n"
    )
    outcome = ingest(mailbox, mail(body=body))

    assert outcome.message is not None
    assert outcome.message.text == "Yes, please send it again."
    assert outcome.message.conversation.last_message_preview == "Yes, please send it again."
    assert outcome.message.metadata["email"]["trimmed"] is True
    raw = bytes(outcome.record.raw)
    assert b"Shall we send the parcel again?" in raw
    assert b"Customer since 2019" in raw


def test_html_is_sanitised_and_attachments_stored_with_refused_ones_recorded(mailbox, settings):
    settings.ASCOLTO_ATTACHMENT_MAX_BYTES = 1024
    message = EmailMessage()
    message["From"] = "anna@customer.example"
    message["To"] = "support@shop.example"
    message["Subject"] = "Photos"
    message["Message-ID"] = "<photos@customer.example>"
    message.set_content("See the photos.")
    message.add_alternative(
        '<p>See the <b>photos</b>.</p><script>alert(1)</script><img src="cid:pic1" onerror="x()">',
        subtype="html",
    )
    message.get_payload()[1].add_related(
        b"\x89PNG small", maintype="image", subtype="png", cid="<pic1>", filename="pic.png"
    )
    message.add_attachment(
        b"%PDF-1.4 receipt", maintype="application", subtype="pdf", filename="receipt.pdf"
    )
    message.add_attachment(b"x" * 5000, maintype="image", subtype="jpeg", filename="big.jpg")
    message.add_attachment(
        b"MZ...", maintype="application", subtype="x-msdownload", filename="setup.exe"
    )

    outcome = ingest(mailbox, message.as_bytes())

    assert outcome.message is not None
    html = outcome.message.html
    assert "<b>photos</b>" in html
    assert "script" not in html
    assert "onerror" not in html
    attachments = {a.filename: a for a in Attachment.objects.filter(message=outcome.message)}
    # The inline image points at its stored copy, which the console serves.
    assert "cid:" not in html
    assert f'src="/inbox/attachments/{attachments["pic.png"].pk}/"' in html
    assert set(attachments) == {"pic.png", "receipt.pdf", "big.jpg", "setup.exe"}
    assert attachments["receipt.pdf"].refused_reason == ""
    assert attachments["receipt.pdf"].file.read() == b"%PDF-1.4 receipt"
    assert attachments["pic.png"].refused_reason == ""
    assert attachments["big.jpg"].refused_reason.startswith("larger than")
    assert not attachments["big.jpg"].file
    assert attachments["setup.exe"].refused_reason == "file type not allowed"
    assert sorted(outcome.refused_attachments or []) == [
        "big.jpg: larger than 0 MB",
        "setup.exe: file type not allowed",
    ]


@pytest.mark.parametrize(
    ("header", "value", "why"),
    [
        ("Auto-Submitted", "auto-replied", "Auto-Submitted: auto-replied"),
        ("Precedence", "bulk", "Precedence: bulk"),
        ("Precedence", "junk", "Precedence: junk"),
        ("Precedence", "list", "Precedence: list"),
        ("X-Autoreply", "yes", "X-Autoreply"),
        ("X-Autorespond", "Out of office", "X-Autorespond"),
    ],
)
def test_machine_mail_is_stored_but_flagged(mailbox, header, value, why):
    outcome = ingest(mailbox, mail(body="I am out of office.", headers={header: value}))

    assert outcome.record.kind == "automatic"
    assert outcome.record.note == why
    assert outcome.message is not None
    assert outcome.message.text == "I am out of office."
    assert outcome.message.metadata["email"]["automatic"] == why


def test_auto_submitted_no_is_a_person(mailbox):
    outcome = ingest(mailbox, mail(headers={"Auto-Submitted": "no"}))
    assert outcome.record.kind == "message"


def test_mail_from_our_own_address_is_kept_but_opens_nothing(mailbox):
    outcome = ingest(mailbox, mail(sender="Shop Support <support@shop.example>"))

    assert outcome.record.kind == "loop"
    assert outcome.message is None
    assert "loop" in outcome.record.note
    assert not Conversation.objects.filter(inbox=mailbox.inbox).exists()
    assert not Identity.objects.filter(value="support@shop.example").exists()


def test_mail_without_sender_is_kept_as_rejected_with_the_reason(mailbox):
    raw = mail().replace(b"From: Anna Rossi <anna@customer.example>\n", b"From: undisclosed\n")
    outcome = ingest(mailbox, raw)

    assert outcome.record.kind == "rejected"
    assert "no sender address" in outcome.record.note


def test_garbage_and_oversize_raise_clear_errors(mailbox):
    with pytest.raises(services.NotAnEmail, match="not an email"):
        ingest(mailbox, b"\x00\x01 just some bytes without headers")
    mailbox.max_message_bytes = 100
    with pytest.raises(services.EmailTooLarge, match="larger than this mailbox accepts"):
        ingest(mailbox, mail(body="x" * 200))
    assert not EmailMessageRecord.objects.exists()


def dsn(*, original_id: str, recipient: str, action: str = "failed") -> bytes:
    return (
        "From: MAILER-DAEMON@mx.customer.example\r\n"
        "To: support@shop.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-1@mx.customer.example>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.customer.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Action: {action}\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: support@shop.example\r\nMessage-ID: {original_id}\r\nSubject: Re: x\r\n"
        "--B--\r\n"
    ).encode()


def test_a_bounce_marks_the_address_failing_and_the_reply_failed(mailbox, agent):
    first = ingest(mailbox, mail())
    assert first.message is not None
    conversation = first.message.conversation
    with transaction.atomic():
        reply = inbox_services.message_send(
            conversation=conversation, author=agent, actor=Actor.for_user(agent), text="Sent!"
        )
    # No SMTP server in this test: record the reply as sent by hand, as the job would.
    reply.refresh_from_db()
    record = EmailMessageRecord.objects.create(
        workspace=mailbox.workspace,
        mailbox=mailbox,
        direction="out",
        kind="reply",
        message_id="<ascolto.1.abc@shop.example>",
        conversation=conversation,
        inbox_message=reply,
        raw=b"",
    )
    inbox_services.message_mark_sent(message=reply, provider_id=record.message_id)

    outcome = ingest(mailbox, dsn(original_id=record.message_id, recipient="anna@customer.example"))

    assert outcome.record.kind == "bounce"
    assert outcome.message is None
    reply.refresh_from_db()
    assert reply.delivery_status == "failed"
    assert "anna@customer.example" in reply.delivery_error
    assert "User unknown" in reply.delivery_error
    health = BouncedAddress.objects.get(identity__value="anna@customer.example")
    assert health.failing
    assert health.bounce_count == 1
    assert health.last_status == "5.1.1"
    assert services.address_is_failing(
        workspace_id=mailbox.workspace_id, address="Anna@Customer.example"
    )
    # The bounce opened no conversation of its own.
    assert Conversation.objects.filter(inbox=mailbox.inbox).count() == 1


def test_a_delay_warning_marks_nothing(mailbox):
    ingest(mailbox, mail())
    ingest(
        mailbox,
        dsn(original_id="<x@shop.example>", recipient="anna@customer.example", action="delayed"),
    )
    assert not BouncedAddress.objects.exists()


def test_an_html_only_reply_is_trimmed_in_text_and_html(mailbox):
    message = EmailMessage()
    message["From"] = "anna@customer.example"
    message["To"] = "support@shop.example"
    message["Subject"] = "Re: Where is my order?"
    message["Message-ID"] = "<html@customer.example>"
    message.set_content(
        '<div dir="ltr">It arrived, thanks!</div><div class="gmail_quote">'
        '<div dir="ltr">On Mon, Nov 23, 2026 at 10:00 Shop &lt;support@shop.example&gt; wrote:'
        "</div><blockquote>Your parcel left today.</blockquote></div>",
        subtype="html",
    )

    outcome = ingest(mailbox, message.as_bytes())

    assert outcome.message is not None
    assert outcome.message.text == "It arrived, thanks!"
    assert "It arrived, thanks!" in outcome.message.html
    assert "parcel left" not in outcome.message.html
    assert b"Your parcel left today." in bytes(outcome.record.raw)


def test_a_re_subject_without_any_header_continues_the_active_conversation(mailbox):
    first = ingest(mailbox, mail())
    reply = ingest(
        mailbox,
        mail(subject="RE: Where is my order?", message_id="<noheaders@customer.example>"),
    )
    other = ingest(
        mailbox,
        mail(subject="Re: A subject never seen", message_id="<never@customer.example>"),
    )

    assert first.message is not None
    assert reply.message is not None
    assert other.message is not None
    assert reply.message.conversation_id == first.message.conversation_id
    assert other.message.conversation_id != first.message.conversation_id


def test_a_mailbox_needs_a_valid_unused_address(workspace, admin_user, mailbox):
    actor = Actor.for_user(admin_user)
    with pytest.raises(ValidationFailed, match="email address") as bad:
        services.mailbox_create(workspace=workspace, name="X", address="nope", actor=actor)
    assert bad.value.field_errors == {"address": ["Invalid."]}
    with pytest.raises(ValidationFailed, match="already has a mailbox"):
        services.mailbox_create(
            workspace=workspace, name="X", address="SUPPORT@shop.example", actor=actor
        )
    assert mailbox.inbox.channel == "email"
    assert len(mailbox.inbound_token) >= 40


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("it", "Questo non è un messaggio email: non ha campi di intestazione."),
        ("he", "זו אינה הודעת דוא״ל: אין בה שדות כותרת."),
    ],
)
def test_errors_speak_the_users_language(mailbox, language, expected):
    with translation.override(language), pytest.raises(services.NotAnEmail) as error:
        ingest(mailbox, b"no headers here")
    assert error.value.message == expected


def test_mailbox_passwords_are_given_in_plaintext_and_stored_encrypted(workspace, admin_user):
    mailbox = services.mailbox_create(
        workspace=workspace,
        name="Sales",
        address="sales@shop.example",
        actor=Actor.for_user(admin_user),
        imap_host="imap.shop.example",
        imap_user="sales",
        imap_password="imap-s3cret",
        smtp_password="smtp-s3cret",
    )

    row = Mailbox.objects.filter(pk=mailbox.pk).values()[0]
    assert "imap-s3cret" not in str(row)
    assert "smtp-s3cret" not in str(row)
    fresh = Mailbox.objects.get(pk=mailbox.pk)
    assert (fresh.imap_password, fresh.smtp_password) == ("imap-s3cret", "smtp-s3cret")
    assert fresh.imap_host == "imap.shop.example"
