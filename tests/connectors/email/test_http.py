"""POST /connectors/email/<mailbox token>/inbound: a raw message from an MTA pipe or webhook."""

from __future__ import annotations

from typing import Any

from django.test import Client

from ascolto.connectors.email.models import EmailMessageRecord
from ascolto.inbox.models import Message
from tests.connectors.email.conftest import mail


def post(client: Client, token: str, body: bytes, **extra: Any) -> Any:
    return client.post(
        f"/connectors/email/{token}/inbound", data=body, content_type="message/rfc822", **extra
    )


def test_a_raw_message_is_stored_once(client, mailbox):
    first = post(client, mailbox.inbound_token, mail())
    again = post(client, mailbox.inbound_token, mail())

    assert first.status_code == 201
    body = first.json()
    assert body["stored"] is True
    assert body["message_id"] == "<first@customer.example>"
    assert body["kind"] == "message"
    message = Message.objects.get(pk=body["inbox_message_id"])
    assert message.conversation_id == body["conversation_id"]
    assert again.status_code == 200
    assert again.json()["stored"] is False
    assert again.json()["inbox_message_id"] == message.pk
    assert Message.objects.filter(inbox=mailbox.inbox).count() == 1


def test_an_unknown_token_is_not_found(client, mailbox):
    response = post(client, "not-the-token", mail())

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")
    assert not EmailMessageRecord.objects.exists()


def test_garbage_is_a_clear_400(client, mailbox):
    response = post(client, mailbox.inbound_token, b"\x00\xff\xfe this is not mail")

    assert response.status_code == 400
    assert "not an email" in response.json()["detail"]
    assert not EmailMessageRecord.objects.exists()


def test_an_empty_body_is_a_400(client, mailbox):
    response = post(client, mailbox.inbound_token, b"")

    assert response.status_code == 400
    assert "empty" in response.json()["detail"]


def test_an_oversize_message_is_413_and_not_stored(client, mailbox):
    mailbox.max_message_bytes = 500
    mailbox.save()

    response = post(client, mailbox.inbound_token, mail(body="x" * 1000))

    assert response.status_code == 413
    assert "500 bytes" in response.json()["detail"]
    assert not EmailMessageRecord.objects.exists()


def test_only_post_is_allowed(client, mailbox):
    response = client.get(f"/connectors/email/{mailbox.inbound_token}/inbound")
    assert response.status_code == 405


def test_a_disabled_inbox_takes_no_mail(client, mailbox):
    mailbox.inbox.is_active = False
    mailbox.inbox.save()

    response = post(client, mailbox.inbound_token, mail())

    assert response.status_code == 409
    assert not EmailMessageRecord.objects.exists()
