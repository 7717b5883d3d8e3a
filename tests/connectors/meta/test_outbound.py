"""Replies through the Graph API (a fake on 127.0.0.1): WhatsApp text inside the 24-hour
customer-care window, only approved templates outside it, Messenger replies, retries with
backoff and the dead-letter "failed" state with the last error."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from ascolto.connectors.meta import services
from ascolto.connectors.twilio.services import customer_for_phone
from ascolto.core.actors import Actor
from ascolto.core.errors import ValidationFailed
from ascolto.customers import services as customer_services
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Message
from tests.connectors.meta.conftest import ACCESS_TOKEN, PAGE_ID, PHONE_NUMBER_ID, make_account
from tests.connectors.twilio.fakes import Answer

pytestmark = pytest.mark.django_db


def whatsapp_conversation(account, *, hours_ago: float = 1):
    customer = customer_for_phone(
        workspace=account.workspace, number="+393331234567", whatsapp=True, actor=Actor.system()
    )
    return inbox_services.message_receive(
        inbox=account.inbox,
        customer=customer,
        text="Ciao",
        provider_id="wamid.IN",
        occurred_at=timezone.now() - dt.timedelta(hours=hours_ago),
    ).conversation


def reply(conversation, agent, capture, text="Arriva domani"):
    with capture(execute=True):
        message = inbox_services.message_send(
            conversation=conversation, author=agent, actor=Actor.for_user(agent), text=text
        )
    message.refresh_from_db()
    return message


@pytest.fixture
def template(wa):
    return services.template_create(
        account=wa,
        name="order_update",
        language="it",
        body="Ciao {{1}}, il tuo ordine {{2}} è in viaggio.",
        variables=["name", "order"],
        actor=Actor.system(),
    )


def test_a_reply_inside_the_window_is_sent_as_text(
    wa, agent, fake_graph, django_capture_on_commit_callbacks
):
    message = reply(whatsapp_conversation(wa), agent, django_capture_on_commit_callbacks)

    assert len(fake_graph.requests) == 1
    request = fake_graph.requests[0]
    assert request.path == f"/v21.0/{PHONE_NUMBER_ID}/messages"
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.json() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "393331234567",
        "type": "text",
        "text": {"body": "Arriva domani", "preview_url": False},
    }
    assert message.delivery_status == "sent"
    assert message.provider_id == "wamid.OUT1"


def test_outside_the_window_a_free_text_reply_fails_with_the_reason(
    wa, agent, fake_graph, django_capture_on_commit_callbacks
):
    conversation = whatsapp_conversation(wa, hours_ago=25)
    assert not services.whatsapp_window_open(conversation=conversation)
    message = reply(conversation, agent, django_capture_on_commit_callbacks)

    assert fake_graph.requests == []
    assert message.delivery_status == "failed"
    assert "24-hour" in message.delivery_error
    assert "template" in message.delivery_error


def test_the_window_is_counted_from_the_last_customer_message(wa):
    conversation = whatsapp_conversation(wa, hours_ago=23.5)
    now = timezone.now()
    assert services.whatsapp_window_open(conversation=conversation, now=now)
    assert not services.whatsapp_window_open(
        conversation=conversation, now=now + dt.timedelta(hours=1)
    )


def test_outside_the_window_a_template_is_sent(
    wa, agent, template, fake_graph, django_capture_on_commit_callbacks
):
    conversation = whatsapp_conversation(wa, hours_ago=72)
    with django_capture_on_commit_callbacks(execute=True):
        message = services.template_send(
            conversation=conversation,
            template=template,
            values={"name": "Giulia", "order": "1001"},
            author=agent,
            actor=Actor.for_user(agent),
        )
    message.refresh_from_db()

    assert message.text == "Ciao Giulia, il tuo ordine 1001 è in viaggio."
    assert fake_graph.requests[0].json()["template"] == {
        "name": "order_update",
        "language": {"code": "it"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Giulia"},
                    {"type": "text", "text": "1001"},
                ],
            }
        ],
    }
    assert message.delivery_status == "sent"


def test_a_template_needs_every_variable(wa, agent, template):
    conversation = whatsapp_conversation(wa)
    with pytest.raises(ValidationFailed) as error:
        services.template_send(
            conversation=conversation,
            template=template,
            values={"name": "Giulia", "colour": "red"},
            author=agent,
            actor=Actor.for_user(agent),
        )
    assert set(error.value.field_errors) == {"values.order", "values.colour"}
    assert not Message.objects.filter(kind="outbound").exists()


def test_a_template_of_another_account_is_refused(wa, agent, template, workspace):
    other = make_account(workspace, "whatsapp", "222222")
    conversation = whatsapp_conversation(other)
    with pytest.raises(ValidationFailed, match="another WhatsApp account"):
        services.template_send(
            conversation=conversation,
            template=template,
            values={"name": "a", "order": "b"},
            author=agent,
            actor=Actor.for_user(agent),
        )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "Order Update"}, "name"),
        ({"language": "italian"}, "language"),
        ({"variables": ["name"]}, "variables"),
        ({"variables": ["a", "a"]}, "variables"),
    ],
)
def test_template_definitions_are_checked(wa, kwargs, field):
    values = {
        "name": "order_update",
        "language": "it",
        "body": "Ciao {{1}}, ordine {{2}}",
        "variables": ["name", "order"],
        **kwargs,
    }
    with pytest.raises(ValidationFailed) as error:
        services.template_create(account=wa, actor=Actor.system(), **values)
    assert field in error.value.field_errors


def test_a_messenger_reply_goes_to_the_page_scoped_id(
    page, agent, fake_graph, django_capture_on_commit_callbacks
):
    customer, _ = customer_services.customer_get_or_create_by_identity(
        workspace=page.workspace, kind="messenger", value="6543210987", actor=Actor.system()
    )
    conversation = inbox_services.message_receive(
        inbox=page.inbox, customer=customer, text="hi"
    ).conversation
    message = reply(conversation, agent, django_capture_on_commit_callbacks)

    request = fake_graph.requests[0]
    assert request.path == f"/v21.0/{PAGE_ID}/messages"
    assert request.json() == {
        "recipient": {"id": "6543210987"},
        "messaging_type": "RESPONSE",
        "message": {"text": "Arriva domani"},
    }
    assert message.provider_id == "m_OUT1"


def test_retries_then_dead_letter_with_graphs_error(
    wa, agent, fake_graph, django_capture_on_commit_callbacks
):
    error = {"error": {"message": "Service temporarily unavailable", "code": 2}}
    fake_graph.answer(Answer(500, error), Answer(503, error), Answer(500, error))
    message = reply(whatsapp_conversation(wa), agent, django_capture_on_commit_callbacks)

    assert len(fake_graph.requests) == 3
    assert message.delivery_status == "failed"
    assert "Service temporarily unavailable (code 2)" in message.delivery_error
    assert "attempt 3 of 3" in message.delivery_error


def test_a_transient_error_then_success(wa, agent, fake_graph, django_capture_on_commit_callbacks):
    fake_graph.answer(Answer(429, {"error": {"message": "Rate limited", "code": 4}}))
    message = reply(whatsapp_conversation(wa), agent, django_capture_on_commit_callbacks)
    assert len(fake_graph.requests) == 2
    assert message.delivery_status == "sent"


def test_credentials_are_encrypted_at_rest(wa):
    from ascolto.connectors.meta.models import MetaAccount
    from tests.connectors.meta.conftest import APP_SECRET, VERIFY_TOKEN

    row = MetaAccount.objects.values_list(
        "app_secret_encrypted", "verify_token_encrypted", "access_token_encrypted"
    ).get(pk=wa.pk)
    for stored, plain in zip(row, (APP_SECRET, VERIFY_TOKEN, ACCESS_TOKEN), strict=True):
        assert plain not in stored
        assert stored.startswith("gAAAA")
    fresh = MetaAccount.objects.get(pk=wa.pk)
    assert (fresh.app_secret, fresh.verify_token, fresh.access_token) == (
        APP_SECRET,
        VERIFY_TOKEN,
        ACCESS_TOKEN,
    )
    assert services.credentials_rotate() == 1
    assert MetaAccount.objects.get(pk=wa.pk).access_token == ACCESS_TOKEN


def test_the_admin_shows_accounts_without_their_secrets(client, wa, django_user_model):
    from tests.connectors.meta.conftest import APP_SECRET, VERIFY_TOKEN

    staff = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(staff)
    html = client.get(f"/admin/connectors_meta/metaaccount/{wa.pk}/change/").content.decode()
    assert PHONE_NUMBER_ID in html
    for secret in (APP_SECRET, VERIFY_TOKEN, ACCESS_TOKEN, wa.access_token_encrypted):
        assert secret not in html
