"""Fixtures of voice calls: the messaging tests' URLs (the calls API mounted under /api/v1/),
API clients, and a phone conversation with a customer."""

from __future__ import annotations

from typing import Any

import pytest

from ascolto.core.actors import Actor
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Conversation
from tests.api.conftest import (  # noqa: F401 (the API fixtures, shared with tests/api)
    ApiClient,
    _fast_password_hashing,
    api,
    make_token,
    member,
    other_api,
)
from tests.connectors.twilio.conftest import _messaging_settings  # noqa: F401 - autouse
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory


@pytest.fixture
def conversation(workspace: Any) -> Conversation:
    inbox = InboxFactory(workspace=workspace, channel="voice", name="Phone")
    customer = CustomerFactory(workspace=workspace, name="Dana Levi")
    return inbox_services.message_receive(
        inbox=inbox, customer=customer, text="Please call me back about order 1001"
    ).conversation


def call_body(conversation: Conversation, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "conversation_id": conversation.pk,
        "direction": "outbound",
        "from_number": "+39 02 1234 5678",
        "to_number": "+39 333 123 4567",
        "started_at": "2026-11-20T10:15:00+01:00",
        "duration_seconds": 192,
        "outcome": "answered",
        "recording_url": "https://recordings.example.com/call-1.mp3",
        "notes": "Refund agreed",
    }
    body.update(extra)
    return body


@pytest.fixture
def system() -> Actor:
    return Actor.system("test")
