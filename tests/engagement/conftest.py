"""Fixtures of engagement: an API inbox to reach customers, a rule owner, open guard rails."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ascolto.connectors.api_channel import services as api_channel_services
from ascolto.core.actors import Actor
from ascolto.engagement import guards, services
from ascolto.inbox.models import Inbox
from tests.api.conftest import (  # noqa: F401 (the API fixtures, shared with tests/api)
    ApiClient,
    _fast_password_hashing,
    api,
    make_token,
    member,
    other_api,
)
from tests.customers.factories import CustomerFactory, IdentityFactory

SYSTEM = Actor.system("test")


@pytest.fixture
def inbox(workspace: Any) -> Inbox:
    inbox, _ = api_channel_services.api_inbox_create(
        workspace=workspace, name="Shop", actor=SYSTEM, routing=Inbox.Routing.MANUAL
    )
    return inbox


@pytest.fixture
def no_quiet_hours(workspace: Any) -> None:
    config = guards.settings_for(workspace.pk)
    config.quiet_start = config.quiet_end = dt.time(0, 0)
    config.save()


@pytest.fixture
def customer(workspace: Any, inbox: Inbox) -> Any:
    person = CustomerFactory(
        workspace=workspace,
        name="Dana Levi",
        locale="en",
        timezone="Europe/Rome",
        value_tier="gold",
        attributes={"preferred_channel": "api"},
    )
    IdentityFactory(customer=person, workspace=workspace, kind="email", value="dana@example.com")
    return person


@pytest.fixture
def delayed_rule(workspace: Any, admin_user: Any) -> Any:
    for language, body in (
        ("en", "Hi {{ first_name }}, order {{ order.number }} is late: now {{ new_date }}."),
        ("it", "Ciao {{ first_name }}, l'ordine {{ order.number }} arriverà il {{ new_date }}."),
        ("he", "שלום {{ first_name }}, ההזמנה {{ order.number }} תגיע ב-{{ new_date }}."),
    ):
        services.template_upsert(
            workspace=workspace,
            actor=SYSTEM,
            key="order-delayed",
            language=language,
            body=body,
            subject="Order {{ order.number }}",
        )
    return services.rule_create(
        workspace=workspace,
        actor=Actor.for_user(admin_user),
        name="Tell about delays",
        trigger="order.delayed",
        conditions={"field": "order.status", "op": "eq", "value": "delayed"},
        actions=[{"type": "send_message", "template": "order-delayed"}],
    )


def delayed_event(external_id: str = "evt-1", email: str = "dana@example.com") -> dict[str, Any]:
    return {
        "external_id": external_id,
        "type": "order.delayed",
        "customer": {"email": email},
        "order": {
            "external_id": "1001",
            "total": "59.90",
            "currency": "EUR",
            "promised_at": "2026-03-12T10:00:00+00:00",
        },
        "payload": {"new_date": "2026-03-12T10:00:00+00:00"},
    }


@pytest.fixture
def admin_api(admin_user: Any, workspace: Any, make_token: Any) -> ApiClient:  # noqa: F811
    return ApiClient(make_token(admin_user, workspace))
