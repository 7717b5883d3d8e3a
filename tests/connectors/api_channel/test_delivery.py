"""Agents' replies in an API inbox reach the system's webhook: signed, retried with backoff,
ending `sent` or visibly `failed`; the system reports later states on the delivery callback.

The webhook is a real HTTP server on 127.0.0.1 (conftest.Receiver). Replies are posted through
the inbox API and their after-commit work (outbox dispatch, the delivery job, in Huey's
immediate mode) runs as it would after a real commit.
"""

from __future__ import annotations

import json
import socket

import pytest

from ascolto.connectors.api_channel import services, tasks
from ascolto.connectors.api_channel.signing import (
    SIGNATURE_HEADER,
    signature_header,
    verify_signature,
)
from ascolto.core.actors import Actor
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Message
from tests.api.conftest import assert_problem
from tests.connectors.api_channel.conftest import Answer, ingest_body
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory


@pytest.fixture
def conversation_id(api, channel) -> int:
    body = api.post(f"channels/api/{channel.inbox.pk}/messages", ingest_body("shop-7")).json()
    return int(body["conversation_id"])


def reply(api, conversation_id, capture, **body):
    with capture(execute=True):
        response = api.post(
            f"conversations/{conversation_id}/messages", body or {"text": "On its way!"}
        )
    assert response.status_code == 201, response.content
    return Message.objects.get(pk=response.json()["id"])


def test_a_reply_is_posted_signed_and_marked_sent(
    api, channel, receiver, conversation_id, agent, django_capture_on_commit_callbacks
):
    message = reply(
        api,
        conversation_id,
        django_capture_on_commit_callbacks,
        text="On its way!",
        html="<p>On its <b>way</b>!<script>alert(1)</script></p>",
    )

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request.path == "/hooks/ascolto"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == f"ascolto:out:{message.pk}"
    assert verify_signature(channel.secret, request.headers[SIGNATURE_HEADER], request.body)
    payload = request.json()
    assert payload["event"] == "message.created"
    assert payload["delivery_id"] == f"ascolto:out:{message.pk}"
    assert payload["inbox_id"] == channel.inbox.pk
    assert payload["conversation"]["id"] == conversation_id
    assert payload["customer"]["identities"] == [{"kind": "email", "value": "dana@example.com"}]
    sent = payload["message"]
    assert sent["id"] == message.pk
    assert sent["in_reply_to"] == "shop-7"
    assert sent["text"] == "On its way!"
    assert sent["html"] == "<p>On its <b>way</b>!</p>"
    assert sent["author"] == {"id": agent.pk, "name": agent.get_full_name()}
    message.refresh_from_db()
    assert message.delivery_status == "sent"
    assert message.provider_id == f"ascolto:out:{message.pk}"


def test_the_system_reports_delivered_and_read(
    api, channel, receiver, conversation_id, django_capture_on_commit_callbacks
):
    message = reply(api, conversation_id, django_capture_on_commit_callbacks)
    callback = f"channels/api/{channel.inbox.pk}/delivery"
    key = f"ascolto:out:{message.pk}"

    delivered = api.post(callback, {"provider_id": key, "status": "delivered"})
    read = api.post(callback, {"provider_id": key, "status": "read"})
    late = api.post(callback, {"provider_id": key, "status": "delivered"})

    assert delivered.json()["delivery_status"] == "delivered"
    assert read.json()["delivery_status"] == "read"
    assert late.json() == {
        "message_id": message.pk,
        "conversation_id": conversation_id,
        "delivery_status": "read",
        "delivery_error": "",
    }
    message.refresh_from_db()
    assert message.delivery_status == "read"


def test_the_system_reports_a_failure_with_its_reason(
    api, channel, receiver, conversation_id, django_capture_on_commit_callbacks
):
    message = reply(api, conversation_id, django_capture_on_commit_callbacks)

    body = api.post(
        f"channels/api/{channel.inbox.pk}/delivery",
        {"provider_id": f"ascolto:out:{message.pk}", "status": "failed", "error": "blocked"},
    ).json()

    assert (body["delivery_status"], body["delivery_error"]) == ("failed", "blocked")


def test_delivery_callbacks_for_unknown_messages_are_404(api, channel):
    problem = assert_problem(
        api.post(
            f"channels/api/{channel.inbox.pk}/delivery",
            {"provider_id": "nope", "status": "delivered"},
        ),
        404,
        "not_found",
    )
    assert problem["errors"] == {"provider_id": ["Unknown in this inbox."]}
    assert_problem(
        api.post(
            f"channels/api/{channel.inbox.pk}/delivery", {"provider_id": "x", "status": "queued"}
        ),
        422,
        "validation_failed",
    )


def test_a_busy_receiver_gets_the_same_reply_again_until_it_takes_it(
    api, receiver, conversation_id, django_capture_on_commit_callbacks
):
    receiver.answer(Answer(503, b"busy"), Answer(429, b"slow down"))

    message = reply(api, conversation_id, django_capture_on_commit_callbacks)

    assert len(receiver.requests) == 3
    keys = {r.headers["Idempotency-Key"] for r in receiver.requests}
    assert keys == {f"ascolto:out:{message.pk}"}
    assert len({r.body for r in receiver.requests}) == 1
    message.refresh_from_db()
    assert message.delivery_status == "sent"


def test_after_the_last_attempt_the_reply_is_visibly_failed(
    api, receiver, conversation_id, django_capture_on_commit_callbacks
):
    receiver.answer(*[Answer(500, b"database down")] * 5)

    message = reply(api, conversation_id, django_capture_on_commit_callbacks)

    assert len(receiver.requests) == 3  # the first attempt and the two retries configured
    message.refresh_from_db()
    assert message.delivery_status == "failed"
    assert message.delivery_error == ("HTTP 500 from the webhook: database down (attempt 3 of 3)")
    shown = api.get(f"messages/{message.pk}").json()
    assert (shown["delivery_status"], shown["delivery_error"]) == (
        "failed",
        message.delivery_error,
    )


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (
            Answer(400, b'{"error": "unknown customer"}'),
            'HTTP 400 from the webhook: {"error": "unknown customer"}',
        ),
        (Answer(404, b""), "HTTP 404 from the webhook."),
        (
            Answer(302, b"", headers={"Location": "https://elsewhere.example/"}),
            "HTTP 302: the webhook redirects to 'https://elsewhere.example/'; "
            "configure the final URL.",
        ),
    ],
)
def test_a_refusal_is_not_retried(
    api, receiver, conversation_id, django_capture_on_commit_callbacks, answer, error
):
    receiver.answer(answer)

    message = reply(api, conversation_id, django_capture_on_commit_callbacks)

    assert len(receiver.requests) == 1
    message.refresh_from_db()
    assert message.delivery_status == "failed"
    assert message.delivery_error == f"{error} (attempt 1 of 3)"


def test_a_receiver_too_slow_to_answer_is_retried(
    api, receiver, conversation_id, django_capture_on_commit_callbacks, settings
):
    settings.ASCOLTO_API_CHANNEL_TIMEOUT = 0.3
    receiver.answer(Answer(200, delay=1.0))

    message = reply(api, conversation_id, django_capture_on_commit_callbacks)

    assert len(receiver.requests) == 2
    message.refresh_from_db()
    assert message.delivery_status == "sent"


def test_an_unreachable_webhook_ends_failed_with_the_reason(
    api, channel, conversation_id, django_capture_on_commit_callbacks
):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    services.webhook_configure(
        inbox=channel.inbox,
        actor=Actor.system("test"),
        webhook_url=f"http://127.0.0.1:{closed_port}/",
    )

    message = reply(api, conversation_id, django_capture_on_commit_callbacks)

    message.refresh_from_db()
    assert message.delivery_status == "failed"
    assert message.delivery_error.startswith("Could not connect:")
    assert message.delivery_error.endswith("(attempt 3 of 3)")


def test_without_a_webhook_the_reply_fails_at_once(
    api, channel, receiver, conversation_id, django_capture_on_commit_callbacks
):
    services.webhook_configure(inbox=channel.inbox, actor=Actor.system("test"), webhook_url="")

    message = reply(api, conversation_id, django_capture_on_commit_callbacks)

    assert receiver.requests == []
    message.refresh_from_db()
    assert message.delivery_status == "failed"
    assert message.delivery_error == "No webhook URL is configured for this inbox. (attempt 1 of 3)"


def test_a_delivered_reply_is_not_sent_again(
    api, receiver, conversation_id, django_capture_on_commit_callbacks
):
    message = reply(api, conversation_id, django_capture_on_commit_callbacks)

    outcome = tasks.deliver_reply.call_local(message.pk)

    assert outcome == "skipped"
    assert len(receiver.requests) == 1


@pytest.fixture
def customer_in(workspace):
    return CustomerFactory(workspace=workspace)


def test_notes_and_other_channels_reach_no_webhook(
    api,
    workspace,
    customer_in,
    receiver,
    conversation_id,
    agent,
    django_capture_on_commit_callbacks,
):
    chat = InboxFactory(workspace=workspace, channel="webchat")
    other = inbox_services.message_receive(inbox=chat, customer=customer_in, text="hi").conversation

    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"conversations/{conversation_id}/notes", {"text": "internal"})
        api.post(f"conversations/{other.pk}/messages", {"text": "chat reply"})

    assert receiver.requests == []


# --- Signatures -----------------------------------------------------------------------------


def test_signatures_fail_on_any_change():
    body = json.dumps({"message": {"text": "hi"}}).encode()
    header = signature_header("s3cret", body, timestamp=1_700_000_000)

    assert verify_signature("s3cret", header, body, now=1_700_000_100)
    assert not verify_signature("s3cret", header, body + b" ", now=1_700_000_100)
    assert not verify_signature("other", header, body, now=1_700_000_100)
    assert not verify_signature("s3cret", header, body, now=1_700_000_000 + 301)  # a replay
    assert not verify_signature(
        "s3cret", header.replace("t=1700000000", "t=1700000050"), body, now=1_700_000_100
    )
    assert not verify_signature("s3cret", "v1=abc", body)
    assert not verify_signature("s3cret", "", body)
