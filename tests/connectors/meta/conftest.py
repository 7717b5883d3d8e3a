"""Fixtures of the Meta connector: WhatsApp Cloud and Messenger accounts, signed webhook
deliveries (HMAC-SHA256 of the raw body with the app secret) and a fake Graph API on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

import ascolto.connectors.meta.handlers  # noqa: F401 - registers the outbox handler
from ascolto.connectors.meta import services
from ascolto.connectors.meta.models import MetaAccount
from ascolto.core.actors import Actor
from tests.api.conftest import (  # noqa: F401 (the API fixtures, shared with tests/api)
    ApiClient,
    _fast_password_hashing,
    api,
    make_token,
    member,
    other_api,
)
from tests.connectors.twilio.conftest import _messaging_settings  # noqa: F401 - autouse
from tests.connectors.twilio.fakes import FakeProvider, meta_default

APP_SECRET = "meta-app-secret-0123456789"
VERIFY_TOKEN = "verify-me-please"
ACCESS_TOKEN = "EAAG-access-token"
PHONE_NUMBER_ID = "106540352242922"
PAGE_ID = "1122334455"


@pytest.fixture
def fake_graph(settings: Any) -> Iterator[FakeProvider]:
    fake = FakeProvider(meta_default)
    settings.ASCOLTO_META_GRAPH_BASE = fake.url + "/v21.0"
    yield fake
    fake.close()


def make_account(workspace: Any, platform: str, external_id: str, secret: str = APP_SECRET):
    return services.meta_account_create(
        workspace=workspace,
        name=f"{platform} {external_id}",
        platform=platform,
        external_id=external_id,
        app_secret=secret,
        verify_token=VERIFY_TOKEN,
        access_token=ACCESS_TOKEN,
        actor=Actor.system("test"),
    )


@pytest.fixture
def wa(workspace: Any) -> MetaAccount:
    return make_account(workspace, "whatsapp", PHONE_NUMBER_ID)


@pytest.fixture
def page(workspace: Any) -> MetaAccount:
    return make_account(workspace, "messenger", PAGE_ID)


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(
    client: Client, account: MetaAccount, payload: Any, *, signature: str | None = None
) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post(
        f"/connectors/meta/{account.pk}/webhook",
        body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": sign(body) if signature is None else signature},
    )


def wa_body(*messages: dict[str, Any], statuses: list[dict[str, Any]] | None = None) -> dict:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "390212345679", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Giulia Rossi"}, "wa_id": "393331234567"}],
    }
    if messages:
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": value}]}],
    }


def wa_message(wamid: str, kind: str, content: dict[str, Any], **extra: Any) -> dict:
    return {
        "from": "393331234567",
        "id": wamid,
        "timestamp": "1763900000",
        "type": kind,
        kind: content,
        **extra,
    }


def page_body(*events: dict[str, Any], kind: str = "page") -> dict:
    return {
        "object": kind,
        "entry": [{"id": PAGE_ID, "time": 1763900000000, "messaging": list(events)}],
    }


def page_event(**content: Any) -> dict:
    return {
        "sender": {"id": "6543210987"},
        "recipient": {"id": PAGE_ID},
        "timestamp": 1763900000000,
        **content,
    }
