"""The WhatsApp API operations: templates listed, the 24-hour window reported, a template sent
as the agent's reply (and then through the Graph API); other workspaces and inboxes are 404."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from ascolto.connectors.meta import services
from ascolto.connectors.twilio.services import customer_for_phone
from ascolto.core.actors import Actor
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Message
from tests.api.conftest import assert_problem
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory

pytestmark = pytest.mark.django_db


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


def conversation_in(account, hours_ago: float):
    customer = customer_for_phone(
        workspace=account.workspace, number="+393331234567", whatsapp=True, actor=Actor.system()
    )
    return inbox_services.message_receive(
        inbox=account.inbox,
        customer=customer,
        text="Ciao",
        occurred_at=timezone.now() - dt.timedelta(hours=hours_ago),
    ).conversation


def test_templates_are_listed(api, other_api, template, wa):
    listed = api.get("whatsapp/templates").json()
    assert listed == [
        {
            "id": template.pk,
            "account_id": wa.pk,
            "inbox_id": wa.inbox_id,
            "name": "order_update",
            "language": "it",
            "body": "Ciao {{1}}, il tuo ordine {{2}} è in viaggio.",
            "variables": ["name", "order"],
        }
    ]
    assert other_api.get("whatsapp/templates").json() == []


def test_the_window_is_reported(api, wa):
    open_one = conversation_in(wa, hours_ago=2)
    window = api.get(f"conversations/{open_one.pk}/whatsapp-window").json()
    assert window["open"] is True
    closes = dt.datetime.fromisoformat(window["closes_at"])
    assert dt.timedelta(hours=21) < closes - timezone.now() < dt.timedelta(hours=23)

    Message.objects.filter(conversation=open_one).update(
        created_at=timezone.now() - dt.timedelta(hours=30)
    )
    assert api.get(f"conversations/{open_one.pk}/whatsapp-window").json()["open"] is False


def test_a_template_is_sent_outside_the_window(
    api, wa, template, fake_graph, django_capture_on_commit_callbacks
):
    conversation = conversation_in(wa, hours_ago=48)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"conversations/{conversation.pk}/whatsapp-template",
            {"template_id": template.pk, "values": {"name": "Giulia", "order": "1001"}},
        )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["text"] == "Ciao Giulia, il tuo ordine 1001 è in viaggio."
    assert fake_graph.requests[0].json()["type"] == "template"
    assert Message.objects.get(pk=body["message_id"]).delivery_status == "sent"


def test_missing_values_are_a_422_naming_them(api, wa, template):
    conversation = conversation_in(wa, hours_ago=1)
    response = api.post(
        f"conversations/{conversation.pk}/whatsapp-template",
        {"template_id": template.pk, "values": {"name": "Giulia"}},
    )
    assert "values.order" in assert_problem(response, 422)["errors"]


def test_other_workspaces_and_inboxes_are_404(api, other_api, wa, template, workspace):
    conversation = conversation_in(wa, hours_ago=1)
    body = {"template_id": template.pk, "values": {"name": "a", "order": "b"}}
    assert_problem(other_api.post(f"conversations/{conversation.pk}/whatsapp-template", body), 404)
    assert_problem(other_api.get(f"conversations/{conversation.pk}/whatsapp-window"), 404)
    chat = InboxFactory(workspace=workspace, channel="webchat")
    web = inbox_services.message_receive(
        inbox=chat, customer=CustomerFactory(workspace=workspace), text="hi"
    ).conversation
    assert_problem(api.get(f"conversations/{web.pk}/whatsapp-window"), 404)
    assert_problem(api.post(f"conversations/{web.pk}/whatsapp-template", body), 404)


def test_viewers_cannot_send_templates(member, wa, template):
    conversation = conversation_in(wa, hours_ago=1)
    response = member("viewer").post(
        f"conversations/{conversation.pk}/whatsapp-template",
        {"template_id": template.pk, "values": {"name": "a", "order": "b"}},
    )
    assert_problem(response, 403)
