"""Fuzzing the inbox and API channel operations: whatever a client sends, never a 500.

Each example takes a valid body and breaks one field, drops one, adds an unknown one, or sends
random JSON altogether (the strategies of tests/api/test_fuzz.py). Derandomised, so a run is
repeatable.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ascolto.connectors.api_channel import services as channel_services
from ascolto.core.actors import Actor
from tests.api.conftest import assert_problem
from tests.api.test_fuzz import broken_body
from tests.inbox.api.conftest import start_conversation

INGEST = {
    "provider_id": "p-1",
    "customer": {"kind": "email", "value": "dana@example.com", "name": "Dana"},
    "text": "hello",
    "html": "<p>hello</p>",
    "subject": "Order",
    "occurred_at": "2025-01-01T10:00:00Z",
    "attachments": [{"filename": "a.txt", "content_type": "text/plain", "content_base64": "YQ=="}],
    "metadata": {"order": 1001},
}

# operation -> (method, path, a valid body)
OPERATIONS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "send_reply": (
        "post",
        "conversations/{conversation}/messages",
        {"text": "hi", "html": "<b>hi</b>", "attachments": INGEST["attachments"]},
    ),
    "add_note": ("post", "conversations/{conversation}/notes", {"text": "@someone look"}),
    "set_conversation_status": (
        "post",
        "conversations/{conversation}/status",
        {"status": "snoozed", "snoozed_until": "2099-01-01T00:00:00Z", "reason": "later"},
    ),
    "assign_conversation": (
        "post",
        "conversations/{conversation}/assignment",
        {"assignee_id": None, "team_id": None, "reason": "queue"},
    ),
    "set_conversation_priority": (
        "post",
        "conversations/{conversation}/priority",
        {"priority": "high", "reason": "vip"},
    ),
    "set_conversation_tags": ("put", "conversations/{conversation}/tags", {"tags": ["a", "b"]}),
    "report_handling": (
        "post",
        "conversations/{conversation}/handling",
        {"started_at": "2025-01-01T10:00:00Z", "ended_at": "2025-01-01T10:01:00Z"},
    ),
    "create_inbox": ("post", "inboxes", {"name": "X", "channel": "email", "team_id": None}),
    "ingest_message": ("post", "channels/api/{api_inbox}/messages", INGEST),
    "ingest_messages_bulk": ("post", "channels/api/{api_inbox}/messages/bulk", {"items": [INGEST]}),
    "report_delivery": (
        "post",
        "channels/api/{api_inbox}/delivery",
        {"provider_id": "p-1", "status": "read", "error": ""},
    ),
    "configure_webhook": (
        "put",
        "channels/api/{api_inbox}/webhook",
        {"webhook_url": "https://shop.example.com/h", "rotate_secret": True},
    ),
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_no_body_makes_a_write_fail_with_500(admin_api, workspace, inbox, customer, operation):
    method, path, base = OPERATIONS[operation]
    conversation = start_conversation(inbox, customer)
    api_inbox, _ = channel_services.api_inbox_create(
        workspace=workspace, name="Shop", actor=Actor.system("test")
    )
    url = path.format(conversation=conversation.pk, api_inbox=api_inbox.pk)

    @settings(
        max_examples=20,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(body=broken_body(base))
    def run(body: Any) -> None:
        try:
            payload = json.dumps(body)
        except ValueError:
            return
        response = getattr(admin_api, method)(url, payload)
        assert response.status_code < 500, response.content[:300]
        if response.status_code >= 400:
            assert_problem(response, response.status_code)

    run()


query_params = st.dictionaries(
    st.sampled_from(
        [
            "view",
            "status",
            "channel",
            "inbox_id",
            "team_id",
            "assignee_id",
            "tag",
            "priority",
            "language",
            "search",
            "cursor",
            "limit",
        ]
    ),
    st.text(max_size=30) | st.integers(min_value=-(2**70), max_value=2**70).map(str),
    max_size=4,
)


def test_no_query_or_id_makes_a_read_fail_with_500(api, inbox, customer):
    conversation = start_conversation(inbox, customer)

    @settings(max_examples=40, derandomize=True, deadline=None, database=None)
    @given(
        params=query_params,
        some_id=st.integers(min_value=-(2**70), max_value=2**70),
        after=st.text(max_size=12) | st.integers(min_value=-(2**70), max_value=2**70).map(str),
    )
    def run(params: dict[str, str], some_id: int, after: str) -> None:
        responses = [
            api.get("conversations", **params),
            api.get(f"conversations/{some_id}"),
            api.get(f"messages/{some_id}"),
            api.get(f"inboxes/{some_id}"),
            api.get(f"conversations/{conversation.pk}/messages", after=after),
        ]
        for response in responses:
            assert response.status_code < 500, response.content[:300]
            if response.status_code >= 400:
                assert_problem(response, response.status_code)

    run()
