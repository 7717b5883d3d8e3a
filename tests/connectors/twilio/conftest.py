"""Fixtures of the Twilio connector: an SMS and a WhatsApp inbox with their accounts, requests
signed with the official SDK's RequestValidator, and a fake Twilio API on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

import ascolto.connectors.twilio.handlers  # noqa: F401 - registers the outbox handler
from ascolto.connectors.twilio import services
from ascolto.connectors.twilio.models import TwilioAccount
from ascolto.core.actors import Actor
from tests.connectors.twilio.fakes import FakeProvider, twilio_default

AUTH_TOKEN = "0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def _messaging_settings(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.connectors.twilio.urls"
    settings.ASCOLTO_MESSAGING_RETRY_DELAYS = [0, 0]  # three attempts, no waiting
    settings.ASCOLTO_MESSAGING_TIMEOUT = 2.0


@pytest.fixture
def fake_twilio(settings: Any) -> Iterator[FakeProvider]:
    fake = FakeProvider(twilio_default)
    settings.ASCOLTO_TWILIO_API_BASE = fake.url
    yield fake
    fake.close()


def make_account(workspace: Any, from_number: str, token: str = AUTH_TOKEN) -> TwilioAccount:
    return services.twilio_account_create(
        workspace=workspace,
        name=f"Twilio {from_number}",
        account_sid="AC" + "1" * 32,
        auth_token=token,
        from_number=from_number,
        actor=Actor.system("test"),
    )


@pytest.fixture
def sms(workspace: Any) -> TwilioAccount:
    return make_account(workspace, "+390212345678")


@pytest.fixture
def whatsapp(workspace: Any) -> TwilioAccount:
    return make_account(workspace, "whatsapp:+390212345679")


def post_signed(
    client: Client,
    path: str,
    form: dict[str, str],
    *,
    token: str = AUTH_TOKEN,
    signature: str | None = None,
) -> Any:
    """POST a form to a webhook the way Twilio does, signed by the SDK's RequestValidator."""
    url = f"http://testserver{path}"
    if signature is None:
        signature = RequestValidator(token).compute_signature(url, form)
    return client.post(path, form, headers={"X-Twilio-Signature": signature})


def sms_form(
    sid: str = "SM" + "a" * 32, sender: str = "+393331234567", **extra: str
) -> dict[str, str]:
    form = {
        "MessageSid": sid,
        "AccountSid": "AC" + "1" * 32,
        "From": sender,
        "To": "+390212345678",
        "Body": "Ciao, where is my order?",
        "NumMedia": "0",
    }
    form.update(extra)
    return form
