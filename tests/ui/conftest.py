"""Fixtures for the server-rendered UI: a signed-in agent and a customer with a full history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client

from ascolto.core.actors import Actor
from ascolto.customers import services
from ascolto.customers.models import AttributeDefinition, Customer


def login(client: Client, user) -> Client:  # type: ignore[no-untyped-def]
    """Sign the user in. UserFactory sets the password without saving it (its post-generation
    save is skipped), and a session made for an unsaved password hash is dropped on the next
    request, so the user is saved first."""
    user.save()
    client.force_login(user)
    return client


@pytest.fixture
def agent_client(client: Client, agent) -> Client:  # type: ignore[no-untyped-def]
    return login(client, agent)


@pytest.fixture
def htmx() -> dict[str, str]:
    return {"HTTP_HX_REQUEST": "true"}


def _order(
    external_id: str,
    *,
    day: int,
    total: str,
    currency: str = "EUR",
    status: str = "delivered",
    lines: int = 0,
) -> services.OrderInput:
    return services.OrderInput(
        external_id=external_id,
        placed_at=dt.datetime(2025, 3, day, 10, 0, tzinfo=dt.UTC),
        total=Decimal(total),
        currency=currency,
        status=status,
        lines=[
            services.OrderLineInput(
                name=f"Espresso cup {n}",
                quantity=Decimal("2"),
                unit_price=Decimal("12.50"),
                sku=f"CUP-{n}",
            )
            for n in range(lines)
        ]
        if lines
        else None,
    )


def build_rich_customer(workspace, actor: Actor, *, orders: int = 3, tag: int = 1) -> Customer:  # type: ignore[no-untyped-def]
    """A customer with identities, orders in two currencies with lines, consent history,
    a merged duplicate, typed attributes and a profile change."""
    AttributeDefinition.objects.get_or_create(
        workspace=workspace, key="vip_since", defaults={"label": "VIP since", "type": "date"}
    )
    AttributeDefinition.objects.get_or_create(
        workspace=workspace, key="newsletter", defaults={"label": "Newsletter", "type": "boolean"}
    )
    customer = services.customer_create(
        workspace=workspace,
        actor=actor,
        name="Giulia Bianchi",
        external_id=f"CRM-{tag}",
        locale="it",
        timezone_name="Europe/Rome",
        birthday=dt.date(1990, 5, 17),
        value_tier="gold",
        attributes={"vip_since": "2021-06-01", "newsletter": True},
        identities=[("email", f"giulia{tag}@example.it"), ("phone", f"+39 06 1234 56{tag:02d}")],
    )
    for n in range(orders):
        services.order_upsert(
            workspace=workspace,
            customer=customer,
            actor=actor,
            data=_order(f"ORD-{tag}-{n}", day=1 + n % 27, total="100.00", lines=2),
        )
    services.order_upsert(
        workspace=workspace,
        customer=customer,
        actor=actor,
        data=_order(f"ORD-{tag}-USD", day=28, total="40.00", currency="USD"),
    )
    services.consent_set(
        customer=customer,
        purpose="marketing",
        channel="email",
        granted=True,
        actor=actor,
        source="signup form",
    )
    services.consent_set(
        customer=customer,
        purpose="marketing",
        channel="email",
        granted=False,
        actor=actor,
        source="unsubscribe link",
    )
    duplicate = services.customer_create(
        workspace=workspace,
        actor=actor,
        name="G. Bianchi",
        identities=[("email", f"g.bianchi{tag}@example.it")],
    )
    services.customer_merge(primary=customer, duplicate=duplicate, actor=actor)
    customer.refresh_from_db()
    services.customer_update(customer=customer, actor=actor, value_tier="platinum")
    customer.refresh_from_db()
    return customer


@pytest.fixture
def rich_customer(workspace, actor) -> Customer:  # type: ignore[no-untyped-def]
    return build_rich_customer(workspace, actor)
