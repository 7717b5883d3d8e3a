"""Meta's webhook: the verify-token handshake, X-Hub-Signature-256, WhatsApp Cloud and
Messenger payloads mapped to inbox messages (text, media, location, reactions, button and list
replies), delivery statuses and read watermarks, redeliveries stored once, malformed bodies
refused with a 400 naming the problem, and workspaces kept apart."""

from __future__ import annotations

import json
import logging

import pytest

from ascolto.connectors.twilio.services import customer_for_phone
from ascolto.core.actors import Actor
from ascolto.customers.models import Customer, Identity
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Message
from tests.connectors.meta.conftest import (
    APP_SECRET,
    VERIFY_TOKEN,
    deliver,
    make_account,
    page_body,
    page_event,
    sign,
    wa_body,
    wa_message,
)

pytestmark = pytest.mark.django_db


def handshake(client, account, **params):
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    query.update(params)
    return client.get(f"/connectors/meta/{account.pk}/webhook", query)


def test_the_handshake_echoes_the_challenge(client, wa):
    response = handshake(client, wa)
    assert response.status_code == 200
    assert response.content == b"1158201444"


@pytest.mark.parametrize(
    "params", [{"hub.verify_token": "guess"}, {"hub.mode": "unsubscribe"}, {"hub.challenge": ""}]
)
def test_a_wrong_handshake_is_forbidden(client, wa, params, caplog):
    with caplog.at_level(logging.WARNING):
        response = handshake(client, wa, **params)
    assert response.status_code == 403
    assert VERIFY_TOKEN not in response.content.decode()
    assert f"account {wa.pk}" in caplog.text


def test_a_signed_whatsapp_text_is_stored(client, wa):
    body = wa_body(wa_message("wamid.A1", "text", {"body": "Ciao! Ordine 1001?"}))
    response = deliver(client, wa, body)

    assert response.status_code == 200, response.content
    assert response.json() == {"received": 1, "duplicates": 0, "statuses": 0}
    message = Message.objects.get(provider_id="wamid.A1")
    assert message.text == "Ciao! Ordine 1001?"
    assert message.conversation.channel == "whatsapp"
    customer = message.author_customer
    assert customer.name == "Giulia Rossi"
    assert customer.identities.filter(kind="whatsapp", value="+393331234567").exists()
    assert message.created_at.timestamp() == 1763900000


@pytest.mark.parametrize(
    "signature",
    ["", "sha256=" + "0" * 64, "sha1=abc", sign(b"{}", APP_SECRET), None],
    ids=["missing", "zeros", "wrong-scheme", "other-body", "other-secret"],
)
def test_a_bad_signature_is_refused(client, wa, signature, caplog):
    body = json.dumps(wa_body(wa_message("wamid.A2", "text", {"body": "x"}))).encode()
    if signature is None:
        signature = sign(body, "not-the-app-secret")
    with caplog.at_level(logging.WARNING):
        response = deliver(client, wa, body, signature=signature)
    assert response.status_code == 403
    assert not Message.objects.exists()
    assert f"bad signature for account {wa.pk}" in caplog.text
    assert APP_SECRET not in caplog.text


def test_redeliveries_are_stored_once(client, wa):
    body = wa_body(wa_message("wamid.A3", "text", {"body": "hello"}))
    deliver(client, wa, body)
    second = deliver(client, wa, body)

    assert second.json() == {"received": 0, "duplicates": 1, "statuses": 0}
    assert Message.objects.filter(provider_id="wamid.A3").count() == 1
    assert Customer.objects.count() == 1


def test_whatsapp_and_sms_from_one_number_are_one_customer(client, wa, workspace):
    sms_customer = customer_for_phone(
        workspace=workspace, number="+393331234567", whatsapp=False, actor=Actor.system()
    )
    deliver(client, wa, wa_body(wa_message("wamid.A4", "text", {"body": "hi"})))
    assert Message.objects.get(provider_id="wamid.A4").author_customer_id == sms_customer.pk


def test_image_and_document_are_media_references(client, wa):
    body = wa_body(
        wa_message(
            "wamid.M1",
            "image",
            {"id": "1479537139650973", "mime_type": "image/jpeg", "caption": "The box"},
        ),
        wa_message(
            "wamid.M2",
            "document",
            {"id": "2479537139650973", "mime_type": "application/pdf", "filename": "bill.pdf"},
        ),
    )
    assert deliver(client, wa, body).json()["received"] == 2

    image = Message.objects.get(provider_id="wamid.M1")
    assert image.metadata["media"] == [
        {
            "kind": "image",
            "media_id": "1479537139650973",
            "mime_type": "image/jpeg",
            "caption": "The box",
        }
    ]
    assert image.text.startswith("The box\n[image/jpeg]")
    document = Message.objects.get(provider_id="wamid.M2")
    assert document.metadata["media"][0]["filename"] == "bill.pdf"
    assert "bill.pdf (media id 2479537139650973)" in document.text


def test_a_location_is_mapped(client, wa):
    body = wa_body(
        wa_message(
            "wamid.L1",
            "location",
            {"latitude": 45.4642, "longitude": 9.19, "name": "Duomo", "address": "Milano"},
        )
    )
    deliver(client, wa, body)
    message = Message.objects.get(provider_id="wamid.L1")
    assert message.metadata["location"]["latitude"] == pytest.approx(45.4642)
    assert "Duomo" in message.text
    assert "mlat=45.464200&mlon=9.190000" in message.text


def test_a_reaction_names_the_message_it_reacts_to(client, wa):
    body = wa_body(wa_message("wamid.R1", "reaction", {"message_id": "wamid.OUT7", "emoji": "👍"}))
    deliver(client, wa, body)
    message = Message.objects.get(provider_id="wamid.R1")
    assert message.metadata["reaction"] == {"to": "wamid.OUT7", "emoji": "👍"}
    assert message.text == "Reacted 👍"


@pytest.mark.parametrize(
    ("kind", "content", "reply"),
    [
        (
            "button",
            {"payload": "TRACK", "text": "Track my order"},
            {"id": "TRACK", "title": "Track my order"},
        ),
        (
            "interactive",
            {"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes"}},
            {"id": "yes", "title": "Yes"},
        ),
        (
            "interactive",
            {
                "type": "list_reply",
                "list_reply": {"id": "size-m", "title": "M", "description": "Medium"},
            },
            {"id": "size-m", "title": "M"},
        ),
    ],
)
def test_button_and_list_replies(client, wa, kind, content, reply):
    deliver(client, wa, wa_body(wa_message("wamid.B1", kind, content)))
    message = Message.objects.get(provider_id="wamid.B1")
    assert message.metadata["reply"] == reply
    assert message.text == reply["title"]


def _sent(account, provider_id: str) -> Message:
    customer = (
        customer_for_phone(
            workspace=account.workspace, number="+393331234567", whatsapp=True, actor=Actor.system()
        )
        if account.platform == "whatsapp"
        else Customer.objects.get(identities__kind=account.platform, identities__value="6543210987")
    )
    conversation = inbox_services.message_receive(
        inbox=account.inbox, customer=customer, text="hi"
    ).conversation
    message = Message.objects.create(
        workspace=account.workspace,
        conversation=conversation,
        inbox=account.inbox,
        kind="outbound",
        text="Out",
        delivery_status="queued",
    )
    inbox_services.message_mark_sent(message=message, provider_id=provider_id)
    return message


def test_whatsapp_statuses_update_the_reply(client, wa):
    message = _sent(wa, "wamid.OUT1")
    statuses = [
        {
            "id": "wamid.OUT1",
            "status": "delivered",
            "timestamp": "1763900001",
            "recipient_id": "393331234567",
        },
        {
            "id": "wamid.OUT1",
            "status": "read",
            "timestamp": "1763900002",
            "recipient_id": "393331234567",
        },
    ]
    assert deliver(client, wa, wa_body(statuses=statuses)).json()["statuses"] == 2
    message.refresh_from_db()
    assert message.delivery_status == "read"

    failed = [
        {
            "id": "wamid.OUT1",
            "status": "failed",
            "errors": [
                {
                    "code": 131047,
                    "title": "Re-engagement message",
                    "message": "More than 24 hours have passed",
                }
            ],
        }
    ]
    deliver(client, wa, wa_body(statuses=failed))
    message.refresh_from_db()
    assert message.delivery_status == "failed"
    assert "More than 24 hours have passed (code 131047)" in message.delivery_error


def test_a_messenger_message_with_an_attachment(client, page):
    event = page_event(
        message={
            "mid": "m_abc",
            "text": "Look",
            "attachments": [{"type": "image", "payload": {"url": "https://cdn.fb.example/1.jpg"}}],
        }
    )
    assert deliver(client, page, page_body(event)).json()["received"] == 1

    message = Message.objects.get(provider_id="m_abc")
    assert message.conversation.channel == "messenger"
    assert message.author_customer.identities.get().value == "6543210987"
    assert message.metadata["media"] == [{"kind": "image", "url": "https://cdn.fb.example/1.jpg"}]
    assert "[image] https://cdn.fb.example/1.jpg" in message.text


def test_messenger_echoes_of_our_replies_are_skipped(client, page):
    event = page_event(message={"mid": "m_echo", "text": "ours", "is_echo": True})
    assert deliver(client, page, page_body(event)).json()["received"] == 0
    assert not Message.objects.exists()


def test_messenger_reactions_delivery_and_read(client, page):
    deliver(client, page, page_body(page_event(message={"mid": "m_1", "text": "hi"})))
    reply_1 = _sent(page, "m_OUT1")
    reply_2 = _sent(page, "m_OUT2")

    react = page_event(
        reaction={"mid": "m_OUT1", "action": "react", "reaction": "love", "emoji": "❤"}
    )
    deliver(client, page, page_body(react))
    deliver(client, page, page_body(react))  # redelivered: stored once
    reaction = Message.objects.get(metadata__reaction__to="m_OUT1")
    assert reaction.text == "Reacted ❤"

    deliver(
        client, page, page_body(page_event(delivery={"mids": ["m_OUT1", "m_OUT2"], "watermark": 1}))
    )
    reply_1.refresh_from_db()
    assert reply_1.delivery_status == "delivered"

    later = int(reply_2.created_at.timestamp() * 1000) + 1000
    deliver(client, page, page_body(page_event(read={"watermark": later})))
    reply_1.refresh_from_db()
    reply_2.refresh_from_db()
    assert (reply_1.delivery_status, reply_2.delivery_status) == ("read", "read")


def test_instagram_messages_use_an_instagram_identity(client, workspace):
    account = make_account(workspace, "instagram", "17841400000000")
    event = page_event(message={"mid": "ig_1", "text": "Is this in stock?"})
    deliver(client, account, page_body(event, kind="instagram"))
    message = Message.objects.get(provider_id="ig_1")
    assert message.conversation.channel == "instagram"
    assert message.author_customer.identities.get().kind == "instagram"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (b"{not json", None),
        ([1, 2], "body"),
        ({"object": "telegram", "entry": []}, "object"),
        ({"object": "whatsapp_business_account", "entry": {}}, "entry"),
        (
            {
                "object": "whatsapp_business_account",
                "entry": [{"changes": [{"field": "messages", "value": "x"}]}],
            },
            "entry[0].changes[0].value",
        ),
        (
            wa_body({"from": "393331234567", "type": "text", "text": {"body": "x"}}),
            "entry[0].changes[0].value.messages[0].id",
        ),
        (
            wa_body(wa_message("wamid.X", "text", {})),
            "entry[0].changes[0].value.messages[0].text.body",
        ),
        (
            wa_body(wa_message("wamid.X", "location", {"latitude": "north", "longitude": 1})),
            "entry[0].changes[0].value.messages[0].location.latitude",
        ),
        (
            wa_body(wa_message("wamid.X", "text", {"body": "x"}, timestamp="soon")),
            "entry[0].changes[0].value.messages[0].timestamp",
        ),
        (
            page_body({"recipient": {"id": "1"}, "message": {"mid": "m", "text": "x"}}),
            "entry[0].messaging[0].sender",
        ),
    ],
)
def test_malformed_bodies_are_a_400_naming_the_problem(client, wa, body, path):
    response = deliver(client, wa, body if isinstance(body, bytes) else json.dumps(body).encode())
    assert response.status_code == 400, response.content
    problem = json.loads(response.content)
    assert response["Content-Type"].startswith("application/problem+json")
    assert problem["detail"]
    if path is None:
        assert problem["code"] == "malformed_json"
    else:
        assert path in problem["errors"], problem
    assert not Message.objects.exists()


def test_a_body_for_another_platform_is_refused(client, wa):
    response = deliver(client, wa, page_body(page_event(message={"mid": "m_9", "text": "x"})))
    assert response.status_code == 400
    assert "object" in json.loads(response.content)["errors"]


def test_accounts_of_other_workspaces_are_apart(client, wa, other_workspace):
    theirs = make_account(other_workspace, "whatsapp", "99999999", secret="their-secret")
    body = json.dumps(wa_body(wa_message("wamid.W1", "text", {"body": "hi"}))).encode()
    # Signed with our app secret, their account refuses it.
    assert deliver(client, theirs, body, signature=sign(body)).status_code == 403
    assert deliver(client, theirs, body, signature=sign(body, "their-secret")).status_code == 200
    assert deliver(client, wa, body).status_code == 200
    # One wamid in both workspaces: one message in each, and two customers.
    assert Message.objects.filter(provider_id="wamid.W1").count() == 2
    assert Identity.objects.filter(kind="whatsapp", value="+393331234567").count() == 2
    # Their status callback cannot touch our reply.
    ours = _sent(wa, "wamid.SHARED")
    status = [{"id": "wamid.SHARED", "status": "failed", "errors": []}]
    raw = json.dumps(wa_body(statuses=status)).encode()
    assert deliver(client, theirs, raw, signature=sign(raw, "their-secret")).json()["statuses"] == 0
    ours.refresh_from_db()
    assert ours.delivery_status == "sent"


def test_a_reaction_reads_in_the_workspace_language(client, wa, workspace):
    workspace.default_locale = "it"
    workspace.save()
    body = wa_body(wa_message("wamid.R2", "reaction", {"message_id": "wamid.OUT7", "emoji": ""}))
    deliver(client, wa, body)
    assert Message.objects.get(provider_id="wamid.R2").text == "Ha rimosso una reazione"
