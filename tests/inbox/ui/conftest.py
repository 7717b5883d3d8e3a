"""Fixtures for the agent console: a signed-in agent, a web chat inbox, a customer with an order,
and a conversation the customer started."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from ascolto.inbox import services
from ascolto.inbox.models import Conversation
from tests.customers.factories import CustomerFactory, IdentityFactory, OrderFactory
from tests.inbox.factories import InboxFactory
from tests.ui.conftest import agent_client, htmx, login  # noqa: F401 (shared UI fixtures)


@pytest.fixture
def inbox(workspace: Any) -> Any:
    return InboxFactory(workspace=workspace, name="Shop chat", channel="webchat")


@pytest.fixture
def customer(workspace: Any) -> Any:
    customer = CustomerFactory(
        workspace=workspace, name="Dana Levi", value_tier="gold", locale="en", orders_count=1
    )
    IdentityFactory(customer=customer, value="dana@example.com")
    OrderFactory(
        customer=customer,
        external_id="W-1042",
        status="shipped",
        total=Decimal("89.90"),
        placed_at=dt.datetime(2025, 5, 2, 10, tzinfo=dt.UTC),
    )
    return customer


def start(
    inbox: Any, customer: Any, text: str = "Where is my order?", **kwargs: Any
) -> Conversation:
    return services.message_receive(
        inbox=inbox, customer=customer, text=text, **kwargs
    ).conversation


@pytest.fixture
def conversation(inbox: Any, customer: Any) -> Conversation:
    return start(inbox, customer)


@pytest.fixture
def client_of():  # type: ignore[no-untyped-def]
    """A signed-in client for any user."""

    def make(user: Any) -> Client:
        return login(Client(), user)

    return make
