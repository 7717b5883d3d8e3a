"""Actions beside the message: a follow-up conversation, a signed webhook (against a real
HTTP server on 127.0.0.1) with retries and the private-address guard; WhatsApp's approved
template outside the 24-hour window; validation naming the path."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from django.utils import timezone

from ascolto.connectors.meta import services as meta_services
from ascolto.core.actors import Actor
from ascolto.engagement import actions, guards, services
from ascolto.engagement.models import Send
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Conversation, Message
from tests.connectors.meta.conftest import (  # noqa: F401 (the fake Graph API fixture)
    PHONE_NUMBER_ID,
    fake_graph,
    make_account,
)
from tests.customers.factories import CustomerFactory, IdentityFactory
from tests.engagement.conftest import SYSTEM, delayed_event

pytestmark = pytest.mark.django_db


class Receiver:
    """A webhook receiver on 127.0.0.1 answering the queued statuses (then 200)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/ascolto"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    settings.ENGAGEMENT_WEBHOOK_ALLOW_PRIVATE = True
    server = Receiver()
    yield server
    server.close()


def webhook_rule(workspace: Any, owner: Any, url: str) -> Any:
    return services.rule_create(
        workspace=workspace,
        actor=Actor.for_user(owner),
        name="Tell the warehouse",
        trigger="order.delayed",
        actions=[{"type": "call_webhook", "url": url}],
    )


def test_a_webhook_gets_a_signed_json_body_after_commit(
    api: Any,
    workspace: Any,
    admin_user: Any,
    customer: Any,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    rule = webhook_rule(workspace, admin_user, receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("engagement/events", delayed_event()).status_code == 201

    ((headers, body),) = receiver.requests
    secret = guards.settings_for(workspace.pk).webhook_secret
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Ascolto-Signature"] == expected
    assert headers["Content-Type"] == "application/json"
    data = json.loads(body)
    assert data["rule"] == {"id": rule.pk, "name": "Tell the warehouse"}
    assert data["event"]["type"] == "order.delayed"
    assert data["event"]["external_id"] == "evt-1"
    assert data["customer"]["id"] == customer.pk
    send = Send.objects.get(rule=rule)
    assert send.action_results["0"]["status"] == "delivered"
    assert send.action_results["0"]["http_status"] == 200
    assert headers["X-Ascolto-Delivery"] == f"{send.pk}-0"
    (listed,) = api.get(f"engagement/rules/{rule.pk}/sends").json()
    assert listed["action_results"]["0"]["status"] == "delivered"


def test_a_failed_webhook_is_retried_with_backoff_then_recorded(
    api: Any,
    workspace: Any,
    admin_user: Any,
    customer: Any,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    rule = webhook_rule(workspace, admin_user, receiver.url)
    receiver.statuses = [503, 200]
    with django_capture_on_commit_callbacks(execute=True):
        api.post("engagement/events", delayed_event())
    send = Send.objects.get(rule=rule)
    assert send.action_results["0"]["status"] == "retrying"
    assert send.action_results["0"]["error"] == "HTTP 503"

    actions.webhook_run(send_id=send.pk, index=0, attempt=2)  # the scheduled retry
    send.refresh_from_db()
    assert send.action_results["0"]["status"] == "delivered"
    assert send.action_results["0"]["attempts"] == 2
    assert len(receiver.requests) == 2
    # Both deliveries carry the same body, so the receiver can deduplicate them.
    assert receiver.requests[0][1] == receiver.requests[1][1]

    # Waits grow between attempts; a refusal other than 408/429/5xx is not retried.
    receiver.statuses = [500, 500, 404]
    assert actions.webhook_attempt(send_id=send.pk, index=0, attempt=1) == dt.timedelta(seconds=30)
    assert actions.webhook_attempt(send_id=send.pk, index=0, attempt=2) == dt.timedelta(minutes=2)
    assert actions.webhook_attempt(send_id=send.pk, index=0, attempt=3) is None
    send.refresh_from_db()
    assert send.action_results["0"]["status"] == "failed"
    assert send.action_results["0"]["error"] == "HTTP 404"


def test_private_and_loopback_addresses_are_refused(
    admin_api: Any,
    api: Any,
    workspace: Any,
    admin_user: Any,
    customer: Any,
    receiver: Receiver,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    rule = webhook_rule(workspace, admin_user, receiver.url)
    settings.ENGAGEMENT_WEBHOOK_ALLOW_PRIVATE = False
    # Saved while allowed, refused when it is called: nothing reaches the address.
    with django_capture_on_commit_callbacks(execute=True):
        api.post("engagement/events", delayed_event())
    result = Send.objects.get(rule=rule).action_results["0"]
    assert result["status"] == "refused"
    assert receiver.requests == []

    for url in (
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://localhost/hook",
        "http://example.com/hook",
        "https://user:pw@example.com/hook",
    ):
        response = admin_api.post(
            "engagement/rules",
            {
                "name": "Leak",
                "trigger": "order.delayed",
                "actions": [{"type": "call_webhook", "url": url}],
            },
        )
        assert response.status_code == 422, url
        assert "actions.0.url" in response.json()["errors"], url
    # A name is checked by what it resolves to when called.
    assert actions.url_problem("https://localhost:8443/hook", resolve=True).startswith("A public")


def test_create_conversation_action_opens_a_follow_up_in_the_inbox(
    api: Any,
    workspace: Any,
    admin_user: Any,
    agent: Any,
    inbox: Any,
    customer: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    rule = services.rule_create(
        workspace=workspace,
        actor=Actor.for_user(admin_user),
        name="Follow up delays",
        trigger="order.delayed",
        actions=[
            {
                "type": "create_conversation",
                "inbox": inbox.pk,
                "subject": "Delay of order {{ order.number }}",
                "note": "Call {{ first_name }} about the new date, {{ new_date }}.",
                "assignee": agent.pk,
                "due_in_days": 1,
            }
        ],
    )
    with django_capture_on_commit_callbacks(execute=True):
        api.post("engagement/events", delayed_event())
        api.post("engagement/events", delayed_event())  # repeated: nothing twice

    send = Send.objects.get(rule=rule)
    assert send.status == Send.Status.SENT
    conversation = Conversation.objects.get(customer=customer)
    assert send.action_results["0"]["conversation_id"] == conversation.pk
    assert conversation.subject == "Delay of order 1001"
    assert conversation.assignee_id == agent.pk
    assert conversation.resolution_due_at is not None
    (note,) = Message.objects.filter(conversation=conversation, kind=Message.Kind.NOTE)
    assert note.text.startswith("Call Dana about the new date, March 12, 2026.")
    assert "Due: " in note.text
    mine = api.get("conversations", assignee=agent.pk).json()["items"]
    assert [item["id"] for item in mine] == [conversation.pk]


@pytest.mark.parametrize(
    ("action", "path"),
    [
        ({"type": "create_conversation", "subject": "x"}, "actions.0.inbox"),
        ({"type": "create_conversation", "inbox": 1}, "actions.0.subject"),
        (
            {"type": "create_conversation", "inbox": 1, "subject": "x", "due_in_days": -1},
            "actions.0.due_in_days",
        ),
        ({"type": "create_conversation", "inbox": 999999, "subject": "x"}, "actions.0.inbox"),
        ({"type": "call_webhook"}, "actions.0.url"),
        ({"type": "call_webhook", "url": "https://x.example", "secret": "s"}, "actions.0.secret"),
        ({"type": "launch_rocket"}, "actions.0.type"),
    ],
)
def test_action_settings_are_checked_naming_the_path(
    admin_api: Any, inbox: Any, action: dict[str, Any], path: str
) -> None:
    if action.get("inbox") == 1:
        action = {**action, "inbox": inbox.pk}
    response = admin_api.post(
        "engagement/rules", {"name": "R", "trigger": "order.delayed", "actions": [action]}
    )
    assert response.status_code == 422
    assert path in response.json()["errors"]


# --- WhatsApp ------------------------------------------------------------------------------


@pytest.fixture
def whatsapp_setup(
    workspace: Any,
    admin_user: Any,
    no_quiet_hours: None,
    fake_graph: Any,  # noqa: F811
) -> dict[str, Any]:
    account = make_account(workspace, "whatsapp", PHONE_NUMBER_ID)
    meta_services.template_create(
        account=account,
        name="order_update",
        language="it",
        body="Ciao {{1}}, il tuo ordine {{2}} è in ritardo.",
        variables=["name", "order"],
        actor=SYSTEM,
    )
    person = CustomerFactory(
        workspace=workspace,
        name="Dana Levi",
        locale="it",
        attributes={"preferred_channel": "whatsapp"},
    )
    IdentityFactory(customer=person, workspace=workspace, kind="email", value="dana@example.com")
    IdentityFactory(customer=person, workspace=workspace, kind="phone", value="+393331234567")
    template = services.template_upsert(
        workspace=workspace,
        actor=SYSTEM,
        key="order-delayed",
        language="it",
        channel="whatsapp",
        body="Ciao {{ first_name }}, l'ordine {{ order.number }} arriverà il {{ new_date }}.",
        whatsapp_mapping={
            "name": "order_update",
            "language": "it",
            "variables": ["{{ first_name }}", "{{ order.number }}"],
        },
    )
    rule = services.rule_create(
        workspace=workspace,
        actor=Actor.for_user(admin_user),
        name="Delays on WhatsApp",
        trigger="order.delayed",
        actions=[{"type": "send_message", "template": "order-delayed"}],
    )
    return {"account": account, "customer": person, "template": template, "rule": rule}


def test_whatsapp_outside_the_window_sends_the_approved_template(
    api: Any,
    admin_api: Any,
    whatsapp_setup: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    rule = whatsapp_setup["rule"]
    dry = admin_api.post(f"engagement/rules/{rule.pk}/dry-run", {"event": delayed_event()})
    assert dry.json()["whatsapp_template"] == {
        "name": "order_update",
        "language": "it",
        "template_id": whatsapp_setup["account"].templates.get().pk,
        "parameters": ["Dana", "1001"],
        "error": "",
    }

    with django_capture_on_commit_callbacks(execute=True):
        api.post("engagement/events", delayed_event())
    send = Send.objects.get(rule=rule)
    assert send.status == Send.Status.SENT, send.reason
    message = Message.objects.get(pk=send.message_id)
    assert message.metadata["whatsapp_template"] == {
        "name": "order_update",
        "language": "it",
        "parameters": ["Dana", "1001"],
    }
    assert message.text == "Ciao Dana, il tuo ordine 1001 è in ritardo."
    assert message.metadata["engagement"]["rule_id"] == rule.pk


def test_whatsapp_inside_the_window_sends_free_text(
    api: Any,
    admin_api: Any,
    whatsapp_setup: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    inbox_services.message_receive(
        inbox=whatsapp_setup["account"].inbox,
        customer=whatsapp_setup["customer"],
        text="Dov'è il mio ordine?",
        provider_id="wamid.1",
        occurred_at=timezone.now() - dt.timedelta(hours=2),
    )
    rule = whatsapp_setup["rule"]
    dry = admin_api.post(f"engagement/rules/{rule.pk}/dry-run", {"event": delayed_event()})
    assert dry.json()["whatsapp_template"] is None

    with django_capture_on_commit_callbacks(execute=True):
        api.post("engagement/events", delayed_event())
    message = Message.objects.get(pk=Send.objects.get(rule=rule).message_id)
    assert message.text == "Ciao Dana, l'ordine 1001 arriverà il 12 Marzo 2026."
    assert "whatsapp_template" not in message.metadata


def test_whatsapp_mapping_is_checked(admin_api: Any, workspace: Any) -> None:
    body = {
        "key": "k",
        "language": "en",
        "channel": "whatsapp",
        "body": "Hi",
        "whatsapp": {"name": "", "language": "en", "variables": ["{% load x %}"]},
    }
    response = admin_api.put("engagement/templates", body)
    assert response.status_code == 422
    assert {"whatsapp.name", "whatsapp.variables.0"} <= set(response.json()["errors"])
    body["channel"] = "email"
    body["whatsapp"] = {"name": "order_update", "language": "en"}
    response = admin_api.put("engagement/templates", body)
    assert response.status_code == 422
    assert "whatsapp" in response.json()["errors"]
