"""Messages sent in by a system: matched to customers by identity, stored once per provider id
(a retried delivery answers 200 with the same ids), sanitised, with files within limits."""

from __future__ import annotations

import base64
import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone

from ascolto.core.models import OutboxEvent
from ascolto.customers.models import Customer, Identity
from ascolto.inbox.models import Attachment, Conversation, Message
from tests.api.conftest import assert_problem, session_client
from tests.connectors.api_channel.conftest import ingest_body
from tests.customers.factories import CustomerFactory, IdentityFactory
from tests.inbox.factories import InboxFactory


def path(channel) -> str:
    return f"channels/api/{channel.inbox.pk}/messages"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_a_new_customer_writes(api, channel, workspace):
    response = api.post(path(channel), ingest_body())

    assert response.status_code == 201
    body = response.json()
    assert body["duplicate"] is False
    assert body["conversation_created"] is True
    assert body["refused_attachments"] == []
    customer = Customer.objects.get(pk=body["customer_id"])
    assert customer.workspace == workspace
    assert customer.name == "Dana Levi"
    assert list(customer.identities.values_list("kind", "value")) == [("email", "dana@example.com")]
    message = Message.objects.get(pk=body["message_id"])
    assert (message.kind, message.text, message.provider_id) == (
        "inbound",
        "Where is my order 1001?",
        "shop-1",
    )
    conversation = Conversation.objects.get(pk=body["conversation_id"])
    assert (conversation.channel, conversation.inbox_id) == ("api", channel.inbox.pk)
    assert OutboxEvent.objects.filter(name="inbox.message.received").count() == 1


def test_a_retried_delivery_is_stored_once_and_answers_the_same_ids(api, channel):
    first = api.post(path(channel), ingest_body())
    again = api.post(path(channel), ingest_body(text="Where is my order 1001?"))
    changed = api.post(path(channel), ingest_body(text="a different text, same id"))

    assert first.status_code == 201
    assert again.status_code == 200
    assert changed.status_code == 200
    for repeat in (again.json(), changed.json()):
        assert repeat["duplicate"] is True
        assert repeat["message_id"] == first.json()["message_id"]
        assert repeat["conversation_id"] == first.json()["conversation_id"]
        assert repeat["customer_id"] == first.json()["customer_id"]
    assert Message.objects.count() == 1
    assert Message.objects.get().text == "Where is my order 1001?"
    assert Conversation.objects.get().message_count == 1
    assert OutboxEvent.objects.filter(name="inbox.message.received").count() == 1


def test_the_same_customer_continues_the_conversation(api, channel):
    first = api.post(path(channel), ingest_body("shop-1")).json()
    second = api.post(
        path(channel),
        ingest_body("shop-2", customer={"kind": "email", "value": "dana@example.com"}, text="Hi?"),
    ).json()

    assert second["customer_id"] == first["customer_id"]
    assert second["conversation_id"] == first["conversation_id"]
    assert second["conversation_created"] is False
    assert Conversation.objects.get().message_count == 2


def test_a_known_customer_is_found_by_a_normalised_handle(api, channel, workspace):
    known = CustomerFactory(workspace=workspace, name="Marco")
    IdentityFactory(customer=known, kind="whatsapp", value="+393331234567")

    body = api.post(
        path(channel),
        ingest_body(customer={"kind": "whatsapp", "value": "+39 333 123 4567", "name": "Other"}),
    ).json()

    assert body["customer_id"] == known.pk
    assert Customer.objects.get(pk=known.pk).name == "Marco"  # a known customer is not renamed
    assert Customer.objects.count() == 1


def test_html_is_sanitised_and_gives_the_text(api, channel):
    body = api.post(
        path(channel),
        ingest_body(
            text="",
            html='<p onclick="steal()">Order <b>1001</b></p><script>alert(1)</script>'
            '<a href="javascript:alert(1)">x</a>',
        ),
    ).json()

    message = Message.objects.get(pk=body["message_id"])
    assert "<script" not in message.html
    assert "onclick" not in message.html
    assert "javascript:" not in message.html
    assert "<b>1001</b>" in message.html
    assert message.text.startswith("Order 1001")


def test_files_are_stored_or_refused_with_a_reason(api, channel, settings):
    settings.ASCOLTO_ATTACHMENT_MAX_BYTES = 1024 * 1024

    body = api.post(
        path(channel),
        ingest_body(
            attachments=[
                {
                    "filename": "receipt.png",
                    "content_type": "image/png",
                    "content_base64": b64(b"PNG"),
                },
                {
                    "filename": "big.pdf",
                    "content_type": "application/pdf",
                    "content_base64": b64(b"x" * (1024 * 1024 + 1)),
                },
            ]
        ),
    ).json()

    assert body["refused_attachments"] == ["big.pdf: larger than 1 MB"]
    stored = {a.filename: a for a in Attachment.objects.all()}
    assert stored["receipt.png"].file.read() == b"PNG"
    assert stored["big.pdf"].refused_reason == "larger than 1 MB"
    assert not stored["big.pdf"].file


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"customer": {"kind": "email", "value": "not an email"}}, "customer.value"),
        ({"customer": {"kind": "fax", "value": "123"}}, "customer.kind"),
        ({"customer": {"kind": "phone", "value": "12"}}, "customer.value"),
        ({"customer": {"kind": "email", "value": ""}}, "customer.value"),
        ({"text": ""}, "text"),
        ({"provider_id": ""}, "provider_id"),
        ({"provider_id": "x" * 256}, "provider_id"),
        ({"text": "nul \u0000 byte"}, "text"),
        ({"occurred_at": "2025-01-01T10:00:00"}, "occurred_at"),
        (
            {"attachments": [{"filename": "a", "content_base64": "@@@"}]},
            "attachments.0.content_base64",
        ),
        (
            {"attachments": [{"filename": "a", "content_base64": "YQ=="}] * 11},
            "attachments",
        ),
        ({"metadata": {"score": float("nan")}}, "metadata"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_messages_are_422_naming_the_field_and_write_nothing(api, channel, change, field):
    body = {**ingest_body(), **change}
    if field == "metadata":
        raw = (
            '{"provider_id": "shop-1", "customer": {"kind": "email", "value": "a@example.com"}, '
            '"text": "x", "metadata": {"score": NaN}}'
        )
        response = api.post(path(channel), raw)
    else:
        response = api.post(path(channel), body)

    problem = assert_problem(response, 422, "validation_failed")
    assert any(key == field or key.startswith(field + ".") for key in problem["errors"]), problem
    assert not Message.objects.exists()
    assert not Customer.objects.exists()
    assert not Identity.objects.exists()


def test_times_in_the_past_are_kept_and_in_the_future_taken_as_now(api, channel):
    past = api.post(path(channel), ingest_body("p", occurred_at="2025-03-01T09:00:00+01:00"))
    future = api.post(path(channel), ingest_body("f", occurred_at="2099-01-01T00:00:00Z"))

    assert Message.objects.get(pk=past.json()["message_id"]).created_at == dt.datetime(
        2025, 3, 1, 8, 0, tzinfo=dt.UTC
    )
    assert Message.objects.get(pk=future.json()["message_id"]).created_at <= timezone.now()


def test_only_api_channel_inboxes_take_messages(api, workspace):
    chat = InboxFactory(workspace=workspace, channel="webchat")

    assert_problem(api.post(f"channels/api/{chat.pk}/messages", ingest_body()), 404, "not_found")
    assert not Message.objects.exists()


def test_a_disabled_inbox_refuses_new_messages_but_answers_repeats(api, channel):
    first = api.post(path(channel), ingest_body("shop-1")).json()
    channel.inbox.is_active = False
    channel.inbox.save()

    repeat = api.post(path(channel), ingest_body("shop-1"))
    new = api.post(path(channel), ingest_body("shop-2"))

    assert repeat.status_code == 200
    assert repeat.json()["message_id"] == first["message_id"]
    assert_problem(new, 409, "conflict")
    assert Message.objects.count() == 1


def test_systems_authenticate_with_a_token_of_a_member_who_writes(member, channel, agent):
    assert_problem(member("analyst").post(path(channel), ingest_body()), 403, "forbidden")
    browser = session_client(agent)
    response = browser.post(
        f"/api/v1/{path(channel)}", data=ingest_body(), content_type="application/json"
    )
    assert_problem(response, 401, "not_authenticated")
    assert not Message.objects.exists()


# --- Bulk -----------------------------------------------------------------------------------


def test_bulk_stores_each_message_once_and_reports_bad_ones(api, channel):
    items = [
        ingest_body("b-1"),
        ingest_body("b-2", customer={"kind": "phone", "value": "+39 06 1234 5678"}),
        ingest_body("b-1"),  # the same message twice in one batch
        ingest_body("b-3", customer={"kind": "email", "value": "broken"}),
        {"provider_id": "b-4"},
    ]

    response = api.post(f"{path(channel)}/bulk", {"items": items})
    again = api.post(f"{path(channel)}/bulk", {"items": items[:2]})

    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["duplicates"], body["errors"]) == (2, 1, 2)
    statuses = [(r["index"], r["status"]) for r in body["results"]]
    assert statuses == [
        (0, "created"),
        (1, "created"),
        (2, "duplicate"),
        (3, "error"),
        (4, "error"),
    ]
    assert body["results"][2]["message_id"] == body["results"][0]["message_id"]
    assert body["results"][3]["errors"] == {"customer.value": ["Enter a valid email address."]}
    assert set(body["results"][4]["errors"]) == {"customer"}
    assert Message.objects.count() == 2
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "duplicate"]
    assert Message.objects.count() == 2


def test_bulk_is_limited_to_500_items(api, channel):
    items = [ingest_body(f"m-{i}") for i in range(501)]

    problem = assert_problem(api.post(f"{path(channel)}/bulk", {"items": items}), 422)

    assert "items" in problem["errors"]
    assert not Message.objects.exists()


# --- Concurrent deliveries (PostgreSQL) -----------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_message_store_it_once(api, channel):
    if connection.vendor != "postgresql":
        pytest.skip("needs the test database on PostgreSQL (DATABASE_URL=postgres://...)")
    workers = 6
    start = threading.Barrier(workers)
    responses: list[tuple[int, int]] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def deliver(n: int) -> None:
        try:
            start.wait(10)
            # Same message and a new customer each time: both races at once.
            response = api.post(path(channel), ingest_body("race-1"))
            with lock:
                responses.append((response.status_code, response.json()["message_id"]))
        except BaseException as exc:
            with lock:
                failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert failures == []
    assert sorted(status for status, _ in responses) == [200] * (workers - 1) + [201]
    assert len({message_id for _, message_id in responses}) == 1
    assert Message.objects.count() == 1
    assert Customer.objects.count() == 1
    assert Conversation.objects.count() == 1
