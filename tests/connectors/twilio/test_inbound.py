"""Twilio's inbound and status webhooks: signatures checked with what the official SDK signs,
SMS and WhatsApp senders as one customer per number, media and locations, status callbacks,
provider retries stored once, malformed forms refused with a clear 400, workspaces apart."""

from __future__ import annotations

import json
import logging

import pytest

from ascolto.customers.models import Customer, Identity
from ascolto.inbox.models import Conversation, Message
from tests.connectors.twilio.conftest import AUTH_TOKEN, make_account, post_signed, sms_form

pytestmark = pytest.mark.django_db


def inbound_path(account) -> str:
    return f"/connectors/twilio/{account.pk}/inbound"


def status_path(account) -> str:
    return f"/connectors/twilio/{account.pk}/status"


def test_a_signed_sms_is_stored_in_the_inbox(client, sms):
    response = post_signed(client, inbound_path(sms), sms_form())

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert b"<Response>" in response.content
    message = Message.objects.get(inbox=sms.inbox)
    assert message.kind == "inbound"
    assert message.text == "Ciao, where is my order?"
    assert message.provider_id == "SM" + "a" * 32
    assert message.metadata["channel"] == "sms"
    identity = Identity.objects.get(kind="phone", value="+393331234567")
    assert message.author_customer_id == identity.customer_id
    assert message.conversation.channel == "sms"


@pytest.mark.parametrize(
    "signature",
    ["", "bm90IHRoZSBzaWduYXR1cmU=", "wrong-token"],
    ids=["missing", "garbage", "other-token"],
)
def test_a_bad_signature_is_refused_and_logged(client, sms, caplog, signature):
    if signature == "wrong-token":
        response = post_signed(client, inbound_path(sms), sms_form(), token="f" * 32)
    else:
        with caplog.at_level(logging.WARNING):
            response = post_signed(client, inbound_path(sms), sms_form(), signature=signature)
    assert response.status_code == 403
    assert json.loads(response.content)["detail"].startswith("The X-Twilio-Signature")
    assert not Message.objects.exists()
    if signature != "wrong-token":
        assert f"bad signature for account {sms.pk}" in caplog.text
        assert AUTH_TOKEN not in caplog.text


def test_a_form_changed_after_signing_is_refused(client, sms):
    form = sms_form()
    from twilio.request_validator import RequestValidator

    url = f"http://testserver{inbound_path(sms)}"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, form)
    form["Body"] = "Send the refund to another account"
    response = client.post(inbound_path(sms), form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_retried_deliveries_are_stored_once(client, sms):
    for _ in range(3):
        assert post_signed(client, inbound_path(sms), sms_form()).status_code == 200
    assert Message.objects.filter(inbox=sms.inbox).count() == 1
    assert Customer.objects.count() == 1
    assert Conversation.objects.get().message_count == 1


def test_sms_and_whatsapp_from_one_number_are_one_customer(client, sms, whatsapp):
    post_signed(client, inbound_path(sms), sms_form(sid="SM1"))
    post_signed(
        client,
        inbound_path(whatsapp),
        sms_form(sid="SM2", sender="whatsapp:+393331234567", ProfileName="Giulia"),
    )

    customer = Customer.objects.get()
    assert {(i.kind, i.value) for i in customer.identities.all()} == {
        ("phone", "+393331234567"),
        ("whatsapp", "+393331234567"),
    }
    whatsapp_message = Message.objects.get(provider_id="SM2")
    assert whatsapp_message.author_customer_id == customer.pk
    assert whatsapp_message.metadata["channel"] == "whatsapp"
    assert whatsapp_message.conversation.channel == "whatsapp"


def test_media_become_references_with_their_content_types(client, whatsapp):
    form = sms_form(
        sender="whatsapp:+393331234567",
        Body="",
        NumMedia="2",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2",
        MediaContentType1="application/pdf",
    )
    assert post_signed(client, inbound_path(whatsapp), form).status_code == 200

    message = Message.objects.get()
    assert message.metadata["media"] == [
        {"url": form["MediaUrl0"], "content_type": "image/jpeg"},
        {"url": form["MediaUrl1"], "content_type": "application/pdf"},
    ]
    assert f"[image/jpeg] {form['MediaUrl0']}" in message.text
    assert f"[application/pdf] {form['MediaUrl1']}" in message.text


def test_a_location_is_kept_with_coordinates_and_a_map_link(client, whatsapp):
    form = sms_form(
        sender="whatsapp:+393331234567",
        Body="",
        Latitude="41.902782",
        Longitude="12.496366",
        Label="Colosseo",
    )
    assert post_signed(client, inbound_path(whatsapp), form).status_code == 200

    message = Message.objects.get()
    assert message.metadata["location"]["latitude"] == pytest.approx(41.902782)
    assert message.metadata["location"]["longitude"] == pytest.approx(12.496366)
    assert "Colosseo" in message.text
    assert "openstreetmap.org/?mlat=41.902782&mlon=12.496366" in message.text


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"MessageSid": "", "From": "+393331234567", "Body": "x"}, "MessageSid"),
        ({"MessageSid": "SM9", "From": "", "Body": "x"}, "From"),
        ({"MessageSid": "SM9", "From": "+393331234567", "Body": ""}, "Body"),
        ({"MessageSid": "SM9", "From": "+393331234567", "NumMedia": "two"}, "NumMedia"),
        ({"MessageSid": "SM9", "From": "+393331234567", "NumMedia": "1"}, "MediaUrl0"),
        ({"MessageSid": "SM9", "From": "+39", "Body": "x"}, "From"),
        (
            {"MessageSid": "SM9", "From": "+393331234567", "Latitude": "95", "Longitude": "1"},
            "Latitude",
        ),
    ],
)
def test_malformed_forms_are_a_400_naming_the_field(client, sms, form, field):
    response = post_signed(client, inbound_path(sms), form)

    assert response.status_code == 400, response.content
    body = json.loads(response.content)
    assert response["Content-Type"].startswith("application/problem+json")
    assert field in body["errors"]
    assert body["detail"]
    assert not Message.objects.exists()


def test_an_unknown_account_is_404(client, sms):
    response = post_signed(client, f"/connectors/twilio/{sms.pk + 100}/inbound", sms_form())
    assert response.status_code == 404


def test_webhooks_take_only_post(client, sms):
    assert client.get(inbound_path(sms)).status_code == 405


def _outbound(account, sid: str) -> Message:
    from ascolto.connectors.twilio.services import customer_for_phone
    from ascolto.core.actors import Actor
    from ascolto.inbox import services as inbox_services

    customer = customer_for_phone(
        workspace=account.workspace, number="+393331234567", whatsapp=False, actor=Actor.system()
    )
    received = inbox_services.message_receive(inbox=account.inbox, customer=customer, text="hi")
    message = Message.objects.create(
        workspace=account.workspace,
        conversation=received.conversation,
        inbox=account.inbox,
        kind="outbound",
        text="On its way",
        delivery_status="queued",
    )
    inbox_services.message_mark_sent(message=message, provider_id=sid)
    return message


def test_status_callbacks_move_the_delivery_state_forward(client, sms):
    message = _outbound(sms, "SMout1")

    for status, expected in [
        ("queued", "sent"),
        ("delivered", "delivered"),
        ("read", "read"),
        ("delivered", "read"),  # late and out of order: ignored
    ]:
        form = {"MessageSid": "SMout1", "MessageStatus": status}
        assert post_signed(client, status_path(sms), form).status_code == 204
        message.refresh_from_db()
        assert message.delivery_status == expected


@pytest.mark.parametrize("status", ["failed", "undelivered"])
def test_a_failed_status_records_twilios_error(client, sms, status):
    message = _outbound(sms, "SMout2")
    form = {
        "MessageSid": "SMout2",
        "MessageStatus": status,
        "ErrorCode": "30006",
        "ErrorMessage": "Landline or unreachable carrier",
    }
    assert post_signed(client, status_path(sms), form).status_code == 204

    message.refresh_from_db()
    assert message.delivery_status == "failed"
    assert "30006" in message.delivery_error
    assert "Landline or unreachable carrier" in message.delivery_error


def test_status_callbacks_are_signed_and_validated(client, sms):
    _outbound(sms, "SMout3")
    bad = {"MessageSid": "SMout3", "MessageStatus": "delivered"}
    assert post_signed(client, status_path(sms), bad, signature="x").status_code == 403
    unknown = {"MessageSid": "SMout3", "MessageStatus": "teleported"}
    response = post_signed(client, status_path(sms), unknown)
    assert response.status_code == 400
    assert "MessageStatus" in json.loads(response.content)["errors"]
    # A status for a message this inbox never sent is acknowledged (Twilio would retry).
    other = {"MessageSid": "SMnever", "MessageStatus": "delivered"}
    assert post_signed(client, status_path(sms), other).status_code == 204


def test_an_account_answers_only_for_its_own_workspace(client, sms, other_workspace):
    theirs = make_account(other_workspace, "+390298765432", token="e" * 32)
    # Their status callback cannot touch our message, even with its MessageSid.
    message = _outbound(sms, "SMours")
    form = {"MessageSid": "SMours", "MessageStatus": "failed"}
    assert post_signed(client, status_path(theirs), form, token="e" * 32).status_code == 204
    message.refresh_from_db()
    assert message.delivery_status == "sent"
    # Our token does not sign for their account.
    assert post_signed(client, inbound_path(theirs), sms_form()).status_code == 403
    # The same number writing to both workspaces is two customers, one in each.
    post_signed(client, inbound_path(theirs), sms_form(sid="SMx"), token="e" * 32)
    assert Customer.objects.filter(workspace=other_workspace).count() == 1
    assert Customer.objects.filter(workspace=sms.workspace).count() == 1
    assert Message.objects.get(provider_id="SMx").workspace_id == other_workspace.pk
