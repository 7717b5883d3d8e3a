"""Inbound messages accepted in front of Django (fastingest.py) and stored by the intake worker
(intake.py): exactly once whichever path and however many concurrent repeats, everything
unusual answered by the Django operation as before, a dead worker's batch completed once, and
the agents' feed pushed after the worker's commit."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.asgi import get_asgi_application
from django.db import connection
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from ascolto.accounts.models import ApiToken
from ascolto.connectors.api_channel import intake, services
from ascolto.connectors.api_channel.fastingest import ApiIngest
from ascolto.connectors.api_channel.models import InboundIntake
from ascolto.core.actors import Actor
from ascolto.core.realtime import workspace_group
from ascolto.customers.models import Customer
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Conversation, Message
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.connectors.api_channel.conftest import ingest_body

Call = tuple[int, Any]


def fresh(token: str) -> str:
    """A token whose use was recorded just now."""
    ApiToken.objects.update(last_used_at=timezone.now())
    return token


def path(channel: Any) -> str:
    return f"/api/v1/channels/api/{channel.inbox.pk}/messages"


class Handed:
    """Stands for Django: records what was handed over (with the body as replayed)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        self.bodies.append(message["body"])
        await send({"type": "http.response.start", "status": 599, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def post(
    app: Any, url: str, body: Any, token: str, content_type: str = "application/json"
) -> Call:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent: list[dict[str, Any]] = []

    pending = [{"type": "http.request", "body": raw, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop()
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": url,
        "raw_path": url.encode(),
        "query_string": b"",
        "root_path": "",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(raw)).encode()),
        ],
    }
    await app(scope, receive, send)
    data = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(data) if data else None


def run(app: ApiIngest, *calls: Callable[[], Any]) -> list[Call]:
    async def main() -> list[Call]:
        try:
            return list(await asyncio.gather(*(call() for call in calls)))
        finally:
            app.close()

    return asyncio.run(main())


@pytest.fixture
def pg() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs the test database on PostgreSQL (DATABASE_URL=postgres://...)")


@pytest.fixture
def token(api: Any) -> str:
    return fresh(api.token)


pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _worker_runs_when_the_test_says(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path wakes the worker after an insert; with Huey immediate that would store
    the row in the wake-up thread while the test runs the worker itself, and the test's run
    would find the row locked, then done. Each test here runs the worker when it means to."""
    monkeypatch.setattr(intake, "wake_worker", lambda: None)


# --- Accepted, then stored once -------------------------------------------------------------


@pytest.mark.postgres
def test_a_message_is_acknowledged_once_committed_and_stored_by_the_worker(
    pg, channel, token, workspace
):
    app = ApiIngest(Handed())
    ((status, body),) = run(app, lambda: post(app, path(channel), ingest_body("m-1"), token))

    assert status == 201
    assert body["duplicate"] is False
    assert body["conversation_id"] is None
    row = InboundIntake.objects.get()
    assert (row.provider_id, row.message_id, row.processed_at) == ("m-1", body["message_id"], None)
    assert not Message.objects.exists()

    assert _drained() == 1
    message = Message.objects.get()
    assert message.pk == body["message_id"]
    assert message.text == "Where is my order 1001?"
    assert message.author_customer.identities.get().value == "dana@example.com"
    assert message.conversation.workspace_id == workspace.pk
    row.refresh_from_db()
    assert row.processed_at is not None
    assert row.conversation_id == message.conversation_id

    app = ApiIngest(Handed())
    ((status, again),) = run(app, lambda: post(app, path(channel), ingest_body("m-1"), token))
    assert status == 200
    assert again["duplicate"] is True
    assert (again["message_id"], again["conversation_id"], again["customer_id"]) == (
        message.pk,
        message.conversation_id,
        message.author_customer_id,
    )
    assert intake.intake_drain() == 0
    assert Message.objects.count() == 1


@pytest.mark.postgres
def test_repeats_in_one_batch_and_before_the_worker_get_the_first_message_id(pg, channel, token):
    app = ApiIngest(Handed())
    answers = run(app, *[lambda: post(app, path(channel), ingest_body("same"), token)] * 8)

    assert sorted(status for status, _ in answers) == [200] * 7 + [201]
    assert len({body["message_id"] for _, body in answers}) == 1
    assert InboundIntake.objects.count() == 1
    assert _stored("same") == 1


AWKWARD = [
    'quote " and \\ backslash',
    "new\nline\ttab {brace} [bracket], comma",
    "עברית: איפה ההזמנה שלי?",
    "emoji 📦🚚 and \u2028 separator",
    "null-looking null, true, 1e3",
    "'single' and `back` and ${dollar}",
]


@pytest.mark.postgres
def test_provider_ids_and_texts_that_need_quoting_are_stored_as_sent(pg, channel, token):
    """The batch travels as one JSON document (intake.rows_document): every character a
    provider may send comes out in the ledger and the message as it went in, and a repeat of
    such an id finds its first answer."""
    app = ApiIngest(Handed())
    bodies = [ingest_body(f"id {text}", text=f"text {text}") for text in AWKWARD]
    answers = run(
        app, *[lambda body=body: post(app, path(channel), body, token) for body in bodies]
    )
    assert [status for status, _ in answers] == [201] * len(AWKWARD)

    stored = {row.provider_id: row.payload for row in InboundIntake.objects.all()}
    assert stored == {
        body["provider_id"]: {**stored[body["provider_id"]], "text": body["text"]}
        for body in bodies
    }
    assert intake.intake_drain() == len(AWKWARD)
    messages = dict(Message.objects.values_list("provider_id", "text"))
    assert messages == {body["provider_id"]: body["text"] for body in bodies}

    app = ApiIngest(Handed())
    again = run(app, *[lambda body=body: post(app, path(channel), body, token) for body in bodies])
    assert [(status, body["duplicate"]) for status, body in again] == [(200, True)] * len(AWKWARD)
    assert {body["message_id"] for _, body in again} == {body["message_id"] for _, body in answers}


@given(
    st.lists(
        st.tuples(
            st.integers(1, 2**62),
            st.integers(1, 2**62),
            st.text(),
            st.dictionaries(st.text(), st.text() | st.integers() | st.none(), max_size=3),
            st.none() | st.integers(1, 2**62),
            st.none() | st.integers(1, 2**62),
        ),
        max_size=5,
    )
)
def test_the_insert_document_holds_the_rows_as_given(rows):
    document = json.loads(
        intake.rows_document((w, i, p, json.dumps(b), u, t) for w, i, p, b, u, t in rows)
    )
    assert document == [
        {
            "workspace_id": w,
            "inbox_id": i,
            "provider_id": p,
            "payload": b,
            "user_id": u,
            "token_id": t,
        }
        for w, i, p, b, u, t in rows
    ]


def _stored(provider_id: str, tries: int = 50) -> int:
    """How many messages hold `provider_id` once the worker has stored it: the worker runs
    again and again, as the row may be held meanwhile by the job the fast path woke (it runs in
    a thread of its own in tests), which then stores it."""
    for _ in range(tries):
        intake.intake_drain()
        count = Message.objects.filter(provider_id=provider_id).count()
        if count:
            return count
        time.sleep(0.1)
    return 0


@pytest.mark.postgres
def test_concurrent_duplicates_across_processes_and_paths_are_stored_once(pg, api, channel, token):
    """Two web processes (two apps, each on its loop in its thread) and the Django operation
    deliver the same provider ids at once: one 201 per id, every answer the same message id,
    one message per id once the worker ran."""
    ids = [f"race-{n}" for n in range(10)]
    answers: list[tuple[str, int, int]] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(3)

    def fast_process() -> None:
        try:
            app = ApiIngest(Handed())
            start.wait(10)
            results = run(
                app, *[(lambda p=p: post(app, path(channel), ingest_body(p), token)) for p in ids]
            )
            with lock:
                answers.extend(
                    (p, s, b["message_id"]) for p, (s, b) in zip(ids, results, strict=True)
                )
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    def django_path() -> None:
        try:
            start.wait(10)
            for p in ids:
                response = api.post(path(channel), ingest_body(p))
                with lock:
                    answers.append((p, response.status_code, response.json()["message_id"]))
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=f) for f in (fast_process, fast_process, django_path)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    intake.intake_drain()

    assert failures == []
    for p in ids:
        mine = [(s, m) for q, s, m in answers if q == p]
        assert sorted(s for s, _ in mine) == [200, 200, 201], p
        assert len({m for _, m in mine}) == 1, p
        assert Message.objects.get(provider_id=p).pk == mine[0][1]
    assert Message.objects.count() == len(ids)
    assert InboundIntake.objects.filter(processed_at__isnull=True).count() == 0


# --- Everything unusual is Django's ---------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        ({"customer": {"kind": "email", "value": "a@b.example"}, "text": "x"}, "application/json"),
        (ingest_body("m", html="<b>hi</b>"), "application/json"),
        (
            ingest_body(
                "m",
                attachments=[
                    {"filename": "a.txt", "content_type": "text/plain", "content_base64": "aGk="}
                ],
            ),
            "application/json",
        ),
        (ingest_body("m", text=""), "application/json"),
        (ingest_body("m", customer={"kind": "email", "value": "not an email"}), "application/json"),
        (ingest_body("m"), "text/plain"),
    ],
)
def test_unusual_requests_go_to_django_with_their_body(pg, channel, token, body, content_type):
    handed = Handed()
    app = ApiIngest(handed)
    ((status, _),) = run(app, lambda: post(app, path(channel), body, token, content_type))

    assert status == 599
    assert handed.bodies == [body if isinstance(body, bytes) else json.dumps(body).encode()]
    assert not InboundIntake.objects.exists()


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "malformed_json"),
        ({"provider_id": "m", "text": "no customer"}, 422, "validation_failed"),
    ],
)
def test_malformed_payloads_are_answered_by_the_operation_and_nothing_is_accepted(
    pg, channel, token, body, status, code
):
    app = ApiIngest(get_asgi_application())
    ((answered, problem),) = run(app, lambda: post(app, path(channel), body, token))

    assert answered == status
    assert problem["code"] == code
    assert problem["detail"]
    assert not InboundIntake.objects.exists()
    assert not Message.objects.exists()


@pytest.mark.postgres
def test_bad_tokens_roles_inboxes_are_answered_by_the_operation(
    pg, channel, token, workspace, other_workspace, make_token
):
    reader = UserFactory()
    MembershipFactory(workspace=workspace, user=reader, role="analyst")
    read_only = make_token(reader, workspace)
    stranger = UserFactory()
    MembershipFactory(workspace=other_workspace, user=stranger, role="agent")
    foreign = make_token(stranger, other_workspace)
    fresh(token)
    disabled, _ = services.api_inbox_create(
        workspace=workspace, name="Off", actor=Actor.system("test")
    )
    disabled.is_active = False
    disabled.save()
    app = ApiIngest(get_asgi_application())
    body = ingest_body("m-1")
    answers = run(
        app,
        lambda: post(app, path(channel), body, "asc_not-a-token"),
        lambda: post(app, path(channel), body, read_only),
        lambda: post(app, path(channel), body, foreign),
        lambda: post(app, f"/api/v1/channels/api/{disabled.pk}/messages", body, token),
    )

    assert [status for status, _ in answers] == [401, 403, 404, 409]
    assert all(problem["detail"] for _, problem in answers)
    assert not InboundIntake.objects.exists()


@pytest.mark.postgres
@pytest.mark.parametrize("last_used", [None, 61])
def test_a_token_unused_for_a_minute_is_recorded_as_used_and_its_burst_stays_here(
    pg, api, channel, last_used
):
    """Every request in flight when a token's recorded use turns a minute old is accepted
    here (none handed to Django, where each would take a thread and a connection of its own),
    and the use is recorded once."""
    before = None if last_used is None else timezone.now() - dt.timedelta(seconds=last_used)
    ApiToken.objects.update(last_used_at=before)
    handed = Handed()
    app = ApiIngest(handed)
    answers = run(
        app,
        *(
            (lambda n=n: post(app, path(channel), ingest_body(f"m-{n}"), api.token))
            for n in range(20)
        ),
    )

    assert [status for status, _ in answers] == [201] * 20
    assert handed.bodies == []
    used = ApiToken.objects.get().last_used_at
    assert used is not None
    assert timezone.now() - used < dt.timedelta(seconds=10)
    assert InboundIntake.objects.count() == 20


def test_a_message_stored_by_the_operation_is_a_repeat_for_the_intake(api, channel):
    first = api.post(f"channels/api/{channel.inbox.pk}/messages", ingest_body("m-1")).json()
    row = InboundIntake.objects.get()
    assert (row.message_id, row.conversation_id) == (first["message_id"], first["conversation_id"])
    assert intake.intake_drain() == 0


@pytest.mark.postgres
def test_a_message_stored_before_the_intake_existed_is_answered_by_the_operation(
    pg, api, channel, token
):
    api.post(f"channels/api/{channel.inbox.pk}/messages", ingest_body("m-old"))
    InboundIntake.objects.all().delete()  # stored before the ledger: a message and no row
    app = ApiIngest(handed := Handed())
    token = fresh(token)
    calls = run(
        app,
        lambda: post(app, path(channel), ingest_body("m-old"), token),
        lambda: post(app, path(channel), ingest_body("m-new"), token),
    )
    assert [status for status, _ in calls] == [599, 201]  # 599: what the stand-in answers
    assert [json.loads(body)["provider_id"] for body in handed.bodies] == ["m-old"]
    assert list(InboundIntake.objects.values_list("provider_id", flat=True)) == ["m-new"]


# --- The worker -----------------------------------------------------------------------------


def accepted(channel: Any, *provider_ids: str) -> list[InboundIntake]:
    """Rows as the fast path leaves them (without a reserved id: the worker's own then)."""
    return [
        InboundIntake.objects.create(
            workspace_id=channel.inbox.workspace_id,
            inbox=channel.inbox,
            provider_id=p,
            payload=ingest_body(p, customer={"kind": "email", "value": f"{p}@example.com"}),
            received_at=timezone.now(),
        )
        for p in provider_ids
    ]


def test_a_worker_dying_mid_batch_leaves_its_rows_pending_and_each_is_stored_once(
    channel, monkeypatch
):
    accepted(channel, "a", "b", "c")
    real = inbox_services.messages_receive_batch

    def dies_after_writing(**kwargs: Any) -> Any:
        real(**kwargs)
        raise SystemExit("worker killed")

    monkeypatch.setattr(inbox_services, "messages_receive_batch", dies_after_writing)
    with pytest.raises(SystemExit):
        intake.intake_process()

    pending = InboundIntake.objects.filter(processed_at__isnull=True)
    assert sorted(pending.values_list("provider_id", flat=True)) == ["a", "b", "c"]
    assert not Message.objects.exists()
    assert not Customer.objects.exists()

    monkeypatch.setattr(inbox_services, "messages_receive_batch", real)
    assert intake.intake_drain() == 3
    assert intake.intake_drain() == 0
    assert sorted(Message.objects.values_list("provider_id", flat=True)) == ["a", "b", "c"]
    assert Conversation.objects.count() == 3
    assert Customer.objects.count() == 3
    assert set(InboundIntake.objects.values_list("attempts", flat=True)) == {1}


def test_a_message_that_cannot_be_stored_is_recorded_and_does_not_block_the_rest(api, channel):
    accepted(channel, "a", "b")
    row = InboundIntake.objects.get(provider_id="a")
    row.payload = {**row.payload, "customer": {"kind": "phone", "value": "not a phone"}}
    row.save()

    assert intake.intake_drain() == 2
    row.refresh_from_db()
    assert row.processed_at is not None
    assert row.last_error
    assert row.message_id is None
    assert list(Message.objects.values_list("provider_id", flat=True)) == ["b"]
    repeat = api.post(f"channels/api/{channel.inbox.pk}/messages", ingest_body("a"))
    assert repeat.status_code == 422
    assert repeat.json()["detail"] == row.last_error


def test_the_worker_pushes_each_message_to_the_agents_after_commit(channel, workspace):
    layer = get_channel_layer()
    name = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(workspace_group(workspace.pk), name)
    accepted(channel, "a", "b")

    intake.intake_drain()

    pushed = []
    while len(pushed) < 2:
        event = async_to_sync(asyncio.wait_for)(layer.receive(name), 5)
        if event["event"] == "inbox.message.created":
            pushed.append(event["payload"]["message"]["id"])
    assert sorted(pushed) == sorted(Message.objects.values_list("pk", flat=True))


def _drained(tries: int = 50) -> int:
    """What the worker stores, as it runs again and again: a row whose customer another session
    holds the lock of at that moment is left for a later run, not stored late or twice."""
    for _ in range(tries):
        done = intake.intake_drain()
        if done:
            return done
        time.sleep(0.1)
    return 0
