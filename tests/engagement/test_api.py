"""The engagement API: events in (one, bulk, signed webhooks), dry-runs, templates, and the
order-delayed flow from the shop's event to the customer's reply in the same conversation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ascolto.connectors.api_channel import services as api_channel_services
from ascolto.customers.models import Activity, Order
from ascolto.engagement import guards, inbound
from ascolto.engagement.models import Event, Send
from ascolto.inbox.models import Conversation, Message
from tests.api.conftest import assert_problem
from tests.engagement.conftest import SYSTEM, delayed_event

pytestmark = pytest.mark.django_db


def webhook_problem(response: Any, status: int) -> dict[str, Any]:
    """A problem document from the webhook views (outside /api/v1/)."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/problem+json")
    body: dict[str, Any] = json.loads(response.content)
    assert body["status"] == status
    assert body["detail"]
    assert body["instance"].startswith("/engagement/webhooks/")
    return body


def test_order_delayed_event_messages_the_customer_and_the_reply_threads_back(
    api: Any,
    workspace: Any,
    inbox: Any,
    customer: Any,
    delayed_rule: Any,
    no_quiet_hours: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("engagement/events", delayed_event())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["customer_id"] == customer.pk

    order = Order.objects.get(workspace=workspace, external_id="1001")
    assert order.status == Order.Status.DELAYED
    send = Send.objects.get(rule=delayed_rule)
    assert send.status == Send.Status.SENT
    message = Message.objects.get(pk=send.message_id)
    assert message.text == "Hi Dana, order 1001 is late: now March 12, 2026."
    assert message.metadata["engagement"]["rule_id"] == delayed_rule.pk
    conversation = message.conversation
    assert conversation.customer_id == customer.pk
    assert conversation.inbox_id == inbox.pk
    titles = list(Activity.objects.filter(customer=customer).values_list("title", flat=True))
    assert "Order delayed: 1001" in titles
    assert "Proactive message: Tell about delays" in titles

    result = api_channel_services.message_ingest(
        inbox=inbox,
        item=api_channel_services.IngestItem(
            provider_id="reply-1",
            identity_kind="email",
            identity_value="dana@example.com",
            text="Thanks, can it arrive sooner?",
        ),
        actor=SYSTEM,
    )
    assert result.conversation_id == conversation.pk
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.OPEN
    assert conversation.message_count == 2


def test_a_repeated_event_is_stored_once_and_sends_once(
    api: Any,
    customer: Any,
    delayed_rule: Any,
    no_quiet_hours: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post("engagement/events", delayed_event())
    with django_capture_on_commit_callbacks(execute=True):
        again = api.post("engagement/events", delayed_event())
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert Event.objects.count() == 1
    assert Send.objects.count() == 1
    assert Message.objects.filter(conversation__customer=customer).count() == 1


def test_bulk_events_are_all_or_nothing(api: Any, customer: Any) -> None:
    good = delayed_event("b-1")
    bad = {**delayed_event("b-2"), "type": "order.teleported"}
    assert_problem(api.post("engagement/events/bulk", {"events": [good, bad]}), 422)
    assert not Event.objects.exists()
    response = api.post(
        "engagement/events/bulk", {"events": [good, {**delayed_event("b-2"), "type": "custom"}]}
    )
    assert response.status_code == 200
    assert response.json()["created"] == 2


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        json.dumps({"external_id": "x", "type": "custom"}),
        json.dumps({**delayed_event(), "customer": {}}),
        json.dumps({**delayed_event(), "occurred_at": "yesterday"}),
    ],
)
def test_malformed_events_are_client_errors(api: Any, body: str) -> None:
    response = api.post("engagement/events", body)
    assert 400 <= response.status_code < 500
    assert_problem(response, response.status_code)
    assert not Event.objects.exists()


def test_a_new_order_needs_its_total(api: Any, customer: Any) -> None:
    event = delayed_event()
    event["order"] = {"external_id": "new-9"}
    problem = assert_problem(api.post("engagement/events", event), 422)
    assert "order.total" in problem["errors"]


def test_generic_webhook_checks_the_signature(api: Any, workspace: Any, customer: Any) -> None:
    secret = guards.settings_for(workspace.pk).webhook_secret
    raw = json.dumps(delayed_event("wh-1")).encode()
    url = f"/engagement/webhooks/{workspace.slug}/generic"
    bad = api.post(url, raw, headers={inbound.SIGNATURE_HEADER: inbound.sign("wrong", raw)})
    webhook_problem(bad, 403)
    unsigned = api.post(url, raw)
    webhook_problem(unsigned, 403)
    assert not Event.objects.exists()
    good = api.post(url, raw, headers={inbound.SIGNATURE_HEADER: inbound.sign(secret, raw)})
    assert good.status_code == 201, good.content
    garbage = b"{oops"
    webhook_problem(
        api.post(url, garbage, headers={inbound.SIGNATURE_HEADER: inbound.sign(secret, garbage)}),
        400,
    )
    invalid = json.dumps({**delayed_event("wh-2"), "type": 7}).encode()
    problem = webhook_problem(
        api.post(url, invalid, headers={inbound.SIGNATURE_HEADER: inbound.sign(secret, invalid)}),
        422,
    )
    assert "type" in problem["errors"]
    webhook_problem(api.post("/engagement/webhooks/nobody/generic", raw), 404)


def test_shopify_order_webhooks_map_to_events_and_orders(workspace: Any, api: Any) -> None:
    secret = guards.settings_for(workspace.pk).webhook_secret
    url = f"/engagement/webhooks/{workspace.slug}/shopify"
    order = {
        "id": 450789469,
        "email": "bob@example.com",
        "created_at": "2026-03-01T10:00:00+01:00",
        "total_price": "199.00",
        "currency": "EUR",
        "financial_status": "paid",
        "customer": {"id": 207119551, "first_name": "Bob", "last_name": "Norman"},
        "line_items": [{"title": "Coffee beans", "quantity": 2, "price": "99.50", "sku": "CB"}],
    }

    def post(topic: str, body: dict[str, Any], webhook_id: str, signer: str = secret) -> Any:
        raw = json.dumps(body).encode()
        return api.post(
            url,
            raw,
            headers={
                inbound.SHOPIFY_SIGNATURE_HEADER: inbound.sign_shopify(signer, raw),
                inbound.SHOPIFY_TOPIC_HEADER: topic,
                inbound.SHOPIFY_ID_HEADER: webhook_id,
            },
        )

    webhook_problem(post("orders/create", order, "w0", signer="nope"), 403)
    created = post("orders/create", order, "w1")
    assert created.status_code == 201, created.content
    assert created.json()["type"] == "order.placed"
    stored = Order.objects.get(workspace=workspace, external_id="shopify-450789469")
    assert stored.status == Order.Status.PAID
    assert [line.name for line in stored.lines.all()] == ["Coffee beans"]
    assert stored.customer.name == "Bob Norman"

    shipped = post(
        "fulfillments/create", {"id": 1, "order_id": 450789469, "status": "success"}, "w2"
    )
    assert shipped.json()["type"] == "order.shipped"
    stored.refresh_from_db()
    assert stored.status == Order.Status.SHIPPED
    assert post("orders/create", order, "w1").status_code == 200
    webhook_problem(post("products/create", order, "w3"), 422)


def test_dry_run_says_what_would_be_sent_to_whom_without_sending(
    admin_api: Any, customer: Any, delayed_rule: Any, no_quiet_hours: None
) -> None:
    customer.locale = "it"
    customer.save()
    response = admin_api.post(
        f"engagement/rules/{delayed_rule.pk}/dry-run", {"event": delayed_event()}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["matches"] is True
    assert body["would_send"] is True
    assert body["customer_id"] == customer.pk
    assert body["channel"] == "api"
    assert body["text"] == "Ciao Dana, l'ordine 1001 arriverà il 12 Marzo 2026."
    assert not Event.objects.exists()
    assert not Send.objects.exists()
    assert not Message.objects.exists()
    other = admin_api.post(
        f"engagement/rules/{delayed_rule.pk}/dry-run",
        {"event": {**delayed_event(), "type": "order.shipped"}},
    )
    assert other.json()["matches"] is False


def test_rules_validate_and_stay_in_their_workspace(
    admin_api: Any, other_api: Any, delayed_rule: Any, customer: Any
) -> None:
    problem = assert_problem(
        admin_api.post(
            "engagement/rules",
            {
                "name": "x",
                "trigger": "order.delayed",
                "conditions": {"field": "customer.x", "op": "eval"},
                "actions": [{"type": "send_message", "template": "t"}],
            },
        ),
        422,
    )
    assert "conditions.op" in problem["errors"]
    assert_problem(
        other_api.post(f"engagement/rules/{delayed_rule.pk}/dry-run", {"event": delayed_event()}),
        404,
    )
    assert other_api.get("engagement/rules").json() == []
    assert len(admin_api.get("engagement/rules").json()) == 1


def test_events_of_another_workspace_never_touch_this_ones_customers(
    api: Any, other_api: Any, customer: Any
) -> None:
    response = other_api.post(
        "engagement/events", {**delayed_event(), "customer": {"id": customer.pk}}
    )
    assert_problem(response, 422)
    made = other_api.post("engagement/events", delayed_event())
    assert made.status_code == 201
    assert made.json()["customer_id"] != customer.pk
    # Same external ids in two workspaces are two events.
    assert api.post("engagement/events", delayed_event()).status_code == 201


def test_template_preview_with_a_real_customer_in_hebrew(
    admin_api: Any, workspace: Any, customer: Any
) -> None:
    saved = admin_api.put(
        "engagement/templates",
        {"key": "hello", "language": "he", "subject": "שלום", "body": "שלום {{ name }}"},
    )
    assert saved.status_code == 200, saved.content
    customer.locale = "he"
    customer.save()
    preview = admin_api.post(
        f"engagement/templates/{saved.json()['id']}/preview", {"customer_id": customer.pk}
    )
    assert preview.status_code == 200
    assert preview.json()["text"] == "שלום Dana Levi"
    assert 'dir="rtl"' in preview.json()["html"]
    assert_problem(
        admin_api.put(
            "engagement/templates", {"key": "x", "language": "en", "body": "{% debug %}"}
        ),
        422,
    )


def test_admins_read_the_webhook_secret_that_signs_deliveries(
    admin_api: Any, api: Any, workspace: Any, customer: Any
) -> None:
    assert_problem(api.get("engagement/settings"), 403)
    settings = admin_api.get("engagement/settings").json()
    raw = json.dumps(delayed_event("s-1")).encode()
    signed = inbound.sign(settings["webhook_secret"], raw)
    response = admin_api.client.post(
        settings["generic_webhook_path"],
        raw,
        content_type="application/json",
        headers={inbound.SIGNATURE_HEADER: signed},
    )
    assert response.status_code == 201
