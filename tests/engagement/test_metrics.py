"""Campaign reports and rule metrics on hand-built data: delivery, replies, conversions within the
window, and the hold-out comparison (conversions and contacts)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from ascolto.core.actors import Actor
from ascolto.customers.models import Order
from ascolto.engagement import holdout, metrics, outbound, services
from ascolto.engagement.models import Campaign, CampaignRecipient, Event, Send
from ascolto.inbox.models import Conversation, Message
from tests.customers.factories import CustomerFactory
from tests.engagement.conftest import SYSTEM

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


def order(customer: Any, at: dt.datetime) -> None:
    Order.objects.create(
        workspace=customer.workspace,
        customer=customer,
        external_id=f"o-{customer.pk}-{at.timestamp()}",
        placed_at=at,
        total=Decimal("10.00"),
        currency="EUR",
    )


def sent_message(inbox: Any, customer: Any, delivery: str, at: dt.datetime = T0) -> Message:
    conversation = outbound.conversation_for_outbound(inbox=inbox, customer=customer, subject="x")
    return Message.objects.create(
        workspace=inbox.workspace,
        conversation=conversation,
        inbox=inbox,
        kind=Message.Kind.BOT,
        text="Hello",
        delivery_status=delivery,
        created_at=at,
    )


def inbound(message: Message, at: dt.datetime) -> None:
    Message.objects.create(
        workspace=message.workspace,
        conversation=message.conversation,
        inbox=message.inbox,
        kind=Message.Kind.INBOUND,
        author_customer=message.conversation.customer,
        text="Thanks",
        created_at=at,
    )


def test_campaign_report_counts_delivery_replies_conversions_and_uplift(
    workspace: Any, inbox: Any
) -> None:
    campaign = Campaign.objects.create(
        workspace=workspace,
        name="Spring",
        template_key="x",
        status=Campaign.Status.COMPLETED,
        started_at=T0,
        conversion_window_days=7,
    )
    people = [CustomerFactory(workspace=workspace) for _ in range(6)]

    def recipient(customer: Any, status: str, message: Message | None = None) -> None:
        CampaignRecipient.objects.create(
            workspace=workspace,
            campaign=campaign,
            customer=customer,
            status=status,
            sent_at=T0 if message else None,
            message_id=message.pk if message else None,
            conversation_id=message.conversation_id if message else None,
        )

    replied_and_bought = sent_message(inbox, people[0], Message.Delivery.DELIVERED)
    inbound(replied_and_bought, T0 + dt.timedelta(hours=1))
    order(people[0], T0 + dt.timedelta(days=2))
    recipient(people[0], "sent", replied_and_bought)
    read_late_buyer = sent_message(inbox, people[1], Message.Delivery.READ)
    inbound(read_late_buyer, T0 - dt.timedelta(hours=1))  # before the send: not a reply
    order(people[1], T0 + dt.timedelta(days=10))  # outside the 7 days
    order(people[1], T0 - dt.timedelta(days=1))  # before the send
    recipient(people[1], "sent", read_late_buyer)
    recipient(people[2], "sent", sent_message(inbox, people[2], Message.Delivery.FAILED))
    order(people[3], T0 + dt.timedelta(days=3))
    recipient(people[3], "held_out")
    recipient(people[4], "held_out")
    recipient(people[5], "skipped")

    report = metrics.campaign_report(campaign=campaign)

    assert report["targeted"] == 6
    assert report["held_out"] == 2
    assert report["skipped"] == 1
    assert report["sent"] == 3
    assert (report["delivered"], report["read"], report["delivery_failed"]) == (2, 1, 1)
    assert report["replied"] == 1
    assert report["converted"] == 1
    assert report["conversion_rate"] == 33.33
    assert (report["holdout_converted"], report["holdout_conversion_rate"]) == (1, 50.0)
    assert report["uplift"] == -16.67


def test_campaign_report_through_the_api(
    workspace: Any, admin_api: Any, other_api: Any, admin_user: Any
) -> None:
    campaign = Campaign.objects.create(workspace=workspace, name="Empty", template_key="x")
    response = admin_api.get(f"engagement/campaigns/{campaign.pk}/report")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["targeted"], body["sent"], body["conversion_rate"], body["uplift"]) == (
        0,
        0,
        None,
        None,
    )
    assert other_api.get(f"engagement/campaigns/{campaign.pk}/report").status_code == 404


def test_rule_metrics_compare_treated_and_hold_out(
    workspace: Any, inbox: Any, delayed_rule: Any, admin_api: Any
) -> None:
    delayed_rule.holdout_percent = 50
    delayed_rule.save()
    people = [CustomerFactory(workspace=workspace) for _ in range(4)]

    def send(customer: Any, *, held: bool, message: Message | None = None) -> None:
        event = Event.objects.create(
            workspace=workspace,
            external_id=f"e{customer.pk}",
            type="order.delayed",
            customer=customer,
            occurred_at=T0,
        )
        Send.objects.create(
            workspace=workspace,
            rule=delayed_rule,
            event=event,
            customer=customer,
            status=Send.Status.SKIPPED if held else Send.Status.SENT,
            reason=holdout.HELD_OUT_REASON if held else "",
            sent_at=None if held else T0,
            message_id=message.pk if message else None,
            conversation_id=message.conversation_id if message else None,
        )

    def customer_started_conversation(customer: Any, at: dt.datetime) -> None:
        Conversation.objects.create(
            workspace=workspace,
            inbox=inbox,
            channel=inbox.channel,
            customer=customer,
            created_at=at,
        )

    send(people[0], held=False, message=sent_message(inbox, people[0], "delivered"))
    order(people[0], T0 + dt.timedelta(days=1))
    customer_started_conversation(people[0], T0 + dt.timedelta(days=2))
    # the proactive conversation of people[1] is not a contact they made
    send(people[1], held=False, message=sent_message(inbox, people[1], "sent"))
    send(people[2], held=True)
    order(people[2], T0 + dt.timedelta(days=1))
    customer_started_conversation(people[2], T0 + dt.timedelta(days=1))
    customer_started_conversation(people[3], T0 + dt.timedelta(days=9))  # after the window
    send(people[3], held=True)

    figures = metrics.rule_metrics(rule=delayed_rule, days=7)

    assert (figures["sent"], figures["delivered"], figures["converted"]) == (2, 1, 1)
    assert (figures["held_out"], figures["holdout_converted"]) == (2, 1)
    assert (figures["conversion_rate"], figures["holdout_conversion_rate"]) == (50.0, 50.0)
    assert figures["uplift"] == 0.0
    assert (figures["contacts"], figures["holdout_contacts"]) == (1, 1)
    assert (figures["contact_rate"], figures["holdout_contact_rate"]) == (50.0, 50.0)

    response = admin_api.get(f"engagement/rules/{delayed_rule.pk}/metrics?days=7")
    assert response.status_code == 200, response.content
    assert response.json()["held_out"] == 2
    assert admin_api.get(f"engagement/rules/{delayed_rule.pk}/metrics?days=0").status_code == 422


def test_rules_api_takes_a_hold_out_share(admin_api: Any, workspace: Any) -> None:
    rule = {
        "name": "Delays",
        "trigger": "order.delayed",
        "actions": [{"type": "add_tag", "tag": "late"}],
    }
    response = admin_api.post("engagement/rules", {**rule, "holdout_percent": 20})
    assert response.status_code == 201, response.content
    assert response.json()["holdout_percent"] == 20
    assert admin_api.post("engagement/rules", {**rule, "holdout_percent": 101}).status_code == 422


def test_a_held_out_customer_gets_a_skipped_send_and_no_message(
    workspace: Any,
    inbox: Any,
    customer: Any,
    delayed_rule: Any,
    no_quiet_hours: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    delayed_rule.holdout_percent = 100
    delayed_rule.save()
    event, _ = services.event_ingest(
        workspace=workspace,
        data=services.EventInput(
            external_id="evt-held",
            type="order.delayed",
            customer=services.CustomerRef(email="dana@example.com"),
            order=services.OrderRef(
                external_id="1001", total=Decimal("5"), currency="EUR", status="delayed"
            ),
        ),
        actor=SYSTEM,
    )
    sends = services.event_process(event=event, actor=Actor.system("test"))

    assert [(s.status, s.reason) for s in sends] == [("skipped", "Held out.")]
    assert not Message.objects.filter(conversation__customer=customer).exists()
