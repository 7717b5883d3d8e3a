"""Realtime: the websocket feed, publish-on-commit and the event contract."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, connections, transaction
from django.test import Client

from ascolto.config.asgi import application
from ascolto.config.env import in_memory_channel_layer, redis_channel_layer
from ascolto.core import realtime
from ascolto.core.realtime import InvalidEvent
from ascolto.customers import services
from tests.accounts.factories import MembershipFactory, UserFactory, WorkspaceFactory
from tests.core.conftest import Boom
from tests.core.websocket import WebsocketCommunicator

ORIGIN = (b"origin", b"http://127.0.0.1:8000")
ENVELOPE_KEYS = {"event", "workspace_id", "payload"}


def _session_cookie(user: Any) -> tuple[bytes, bytes]:
    client = Client()
    # The session carries a hash of the password as stored, so log in the row as stored.
    client.force_login(type(user).objects.get(pk=user.pk))
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    return (b"cookie", f"{settings.SESSION_COOKIE_NAME}={key}".encode())


def _socket(*headers: tuple[bytes, bytes]) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, "/ws/events/", headers=list(headers))


@pytest_asyncio.fixture(autouse=True)
async def _close_connections_of_the_sync_thread() -> AsyncIterator[None]:
    """ORM calls from async code run in asgiref's sync thread; its connection would otherwise
    outlive the test and keep the test database from being dropped."""
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture
def member(workspace):  # type: ignore[no-untyped-def]
    user = UserFactory()
    MembershipFactory(workspace=workspace, user=user, role="agent")
    return user


@pytest_asyncio.fixture
async def connected(member) -> AsyncIterator[WebsocketCommunicator]:  # type: ignore[no-untyped-def]
    cookie = await sync_to_async(_session_cookie)(member)
    communicator = _socket(cookie, ORIGIN)
    accepted, _ = await communicator.connect()
    assert accepted
    yield communicator
    await communicator.disconnect()


def _publish(workspace_id: int, event: str, payload: dict[str, Any]) -> None:
    realtime.publish_on_commit(workspace_id=workspace_id, event=event, payload=payload)


publish = sync_to_async(_publish)

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.mark.asyncio
async def test_a_member_receives_events_of_their_workspace(connected, workspace):
    await publish(workspace.pk, "tests.customer.updated", {"customer_id": 5})

    message = await connected.receive_json_from(timeout=5)

    assert message == {
        "event": "tests.customer.updated",
        "workspace_id": workspace.pk,
        "payload": {"customer_id": 5},
    }


@pytest.mark.asyncio
async def test_events_of_another_workspace_never_reach_the_socket(connected, other_workspace):
    await publish(other_workspace.pk, "tests.customer.updated", {"customer_id": 5})

    assert await connected.receive_nothing(timeout=0.5)


@pytest.mark.asyncio
async def test_a_socket_answers_ping(connected):
    await connected.send_json_to({"type": "ping"})

    assert await connected.receive_json_from(timeout=5) == {"type": "pong"}


@pytest.mark.asyncio
async def test_an_anonymous_socket_is_refused(db):
    accepted, _ = await _socket(ORIGIN).connect()

    assert not accepted


@pytest.mark.asyncio
async def test_a_socket_from_another_site_is_refused_even_with_a_session(member):
    cookie = await sync_to_async(_session_cookie)(member)

    accepted, _ = await _socket(cookie, (b"origin", b"https://evil.example")).connect()

    assert not accepted


@pytest.mark.asyncio
async def test_a_deactivated_user_is_refused(member):
    cookie = await sync_to_async(_session_cookie)(member)
    member.is_active = False
    await sync_to_async(member.save)()

    accepted, _ = await _socket(cookie, ORIGIN).connect()

    assert not accepted


@pytest.mark.asyncio
async def test_a_member_of_two_workspaces_hears_both(member, connected, workspace):
    # `connected` joined at connect time; a second socket sees the new membership.
    second = await sync_to_async(WorkspaceFactory)()
    await sync_to_async(MembershipFactory)(workspace=second, user=member)
    cookie = await sync_to_async(_session_cookie)(member)
    socket = _socket(cookie, ORIGIN)
    assert (await socket.connect())[0]

    await publish(workspace.pk, "tests.note.created", {"n": 1})
    await publish(second.pk, "tests.note.created", {"n": 2})

    received = [await socket.receive_json_from(timeout=5) for _ in range(2)]
    assert [m["workspace_id"] for m in received] == [workspace.pk, second.pk]
    await socket.disconnect()


def _publish_then_fail(workspace_id: int) -> None:
    with transaction.atomic():
        _publish(workspace_id, "tests.customer.updated", {"customer_id": 1})
        raise Boom


@pytest.mark.asyncio
async def test_nothing_is_pushed_for_a_rolled_back_change(connected, workspace):
    with pytest.raises(Boom):
        await sync_to_async(_publish_then_fail)(workspace.pk)

    assert await connected.receive_nothing(timeout=0.5)


@pytest.mark.asyncio
async def test_a_push_is_sent_only_once_the_change_commits(connected, workspace):
    def write() -> bool:
        with transaction.atomic():
            _publish(workspace.pk, "tests.customer.updated", {"customer_id": 1})
            # Still uncommitted: a browser told now would fetch a row it cannot see yet.
            quiet: bool = async_to_sync(connected.receive_nothing)(timeout=0.3)
        return quiet

    assert await sync_to_async(write)()
    message = await connected.receive_json_from(timeout=5)

    assert message["event"] == "tests.customer.updated"


@pytest.mark.asyncio
async def test_a_service_change_reaches_the_browser_in_the_contract_shape(
    connected, workspace, member
):
    """What the agent UI receives when a customer is created through the services."""
    from ascolto.core.actors import Actor

    await sync_to_async(_create_customer)(workspace, Actor.for_user(member))

    message = await connected.receive_json_from(timeout=5)
    assert set(message) == ENVELOPE_KEYS
    assert message["workspace_id"] == workspace.pk
    assert realtime.EVENT_NAME.fullmatch(message["event"])
    assert all(isinstance(v, int | str | bool) for v in message["payload"].values())


def _create_customer(workspace: Any, actor: Any) -> None:
    with transaction.atomic():
        services.customer_create(workspace=workspace, actor=actor, name="Dana Levi")


@pytest.mark.asyncio
async def test_a_push_from_a_worker_thread_reaches_a_socket_of_the_server_loop(
    connected, workspace
):
    """`ascolto serve`: jobs run in threads beside the web server's loop, sharing its layer."""
    realtime.bind_server_loop(asyncio.get_running_loop())
    try:
        worker = threading.Thread(
            target=_publish_from_worker, args=(workspace.pk,), name="Worker-1"
        )
        worker.start()
        message = await connected.receive_json_from(timeout=5)
        await asyncio.to_thread(worker.join, 10)
    finally:
        realtime.bind_server_loop(None)

    assert message["payload"] == {"job_id": 9}


def _publish_from_worker(workspace_id: int) -> None:
    try:
        _publish(workspace_id, "tests.job.progressed", {"job_id": 9})
    finally:
        connection.close()


@pytest.mark.asyncio
async def test_a_thread_that_publishes_does_not_wait_for_a_busy_server_loop(connected, workspace):
    """A committed change hands its push to the server's loop and returns: the push is sent
    once the loop is free, the thread (a widget message's database thread) goes on at once."""
    realtime.bind_server_loop(asyncio.get_running_loop())
    try:
        worker = threading.Thread(target=_publish_from_worker, args=(workspace.pk,))
        worker.start()
        worker.join(timeout=5)  # on the loop's thread: the loop is busy until the join ends
        returned = not worker.is_alive()
        message = await connected.receive_json_from(timeout=5)
    finally:
        realtime.bind_server_loop(None)
        await asyncio.to_thread(worker.join, 15)

    assert returned
    assert message["payload"] == {"job_id": 9}


def _publish_in_order(workspace_id: int, count: int) -> None:
    try:
        for n in range(count):
            with transaction.atomic():
                _publish(workspace_id, "tests.job.progressed", {"job_id": n})
    finally:
        connection.close()


@pytest.mark.asyncio
async def test_pushes_handed_to_the_server_loop_arrive_in_commit_order(connected, workspace):
    realtime.bind_server_loop(asyncio.get_running_loop())
    try:
        await asyncio.to_thread(_publish_in_order, workspace.pk, 100)
        received = [(await connected.receive_json_from(timeout=5))["payload"] for _ in range(100)]
    finally:
        realtime.bind_server_loop(None)

    assert received == [{"job_id": n} for n in range(100)]


@pytest.mark.asyncio
async def test_a_burst_of_pushes_goes_out_in_a_few_group_sends_and_in_order(
    connected, workspace, monkeypatch
):
    """Pushes that pile up while the loop is busy (a burst of new conversations) leave as one
    channel-layer message per group and round, not one each, and the console gets every event
    in commit order."""
    layer = get_channel_layer()
    sends: list[str] = []
    group_send = layer.group_send

    async def counting(group: str, message: dict[str, Any]) -> None:
        sends.append(group)
        await group_send(group, message)

    monkeypatch.setattr(layer, "group_send", counting)
    realtime.bind_server_loop(asyncio.get_running_loop())
    try:
        worker = threading.Thread(target=_publish_in_order, args=(workspace.pk, 250))
        worker.start()
        worker.join(timeout=30)  # on the loop's thread: the pushes wait for the loop
        received = [(await connected.receive_json_from(timeout=5))["payload"] for _ in range(250)]
    finally:
        realtime.bind_server_loop(None)

    assert received == [{"job_id": n} for n in range(250)]
    assert len(sends) == 3  # batches of at most realtime.BATCH_SIZE (100)


def test_batched_keeps_each_groups_order_and_sends_one_alone_as_it_is():
    one, two, three = ({"type": "realtime.event", "n": n} for n in range(3))
    merged = realtime.batched([("a", one), ("b", two), ("a", three)])
    assert merged == [("a", {"type": realtime.BATCH_TYPE, "messages": [one, three]}), ("b", two)]


@pytest.mark.asyncio
async def test_a_push_reaches_the_socket_while_the_sync_thread_is_busy(connected, workspace):
    """The one thread-sensitive thread (Django's sync views, sync ORM calls from async code)
    can be busy for seconds; a push to a console must not queue behind it."""
    realtime.bind_server_loop(asyncio.get_running_loop())
    busy = asyncio.ensure_future(sync_to_async(time.sleep)(3))
    try:
        await asyncio.sleep(0.1)
        worker = threading.Thread(target=_publish_from_worker, args=(workspace.pk,))
        worker.start()
        message = await connected.receive_json_from(timeout=1.5)
        assert not busy.done()
    finally:
        realtime.bind_server_loop(None)
        await busy
        await asyncio.to_thread(worker.join, 10)

    assert message["payload"] == {"job_id": 9}


async def _run_elsewhere(
    script: str, workspace: Any, redis_url: str, prefix: str, data_dir: Path
) -> None:
    """Run Python code in a process of its own, configured as a scaled worker would be (the
    workspace's id in $WS), and wait for it to exit cleanly."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "PYTEST_XDIST_WORKER"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="ascolto.config.settings",
        ASCOLTO_ENV="test",
        ASCOLTO_DATA_DIR=str(data_dir),
        REDIS_URL=redis_url,
        ASCOLTO_REDIS_PREFIX=prefix,
        WS=str(workspace.pk),
    )
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.redis
@pytest.mark.asyncio
async def test_an_event_published_in_another_process_reaches_this_socket(
    member, workspace, redis_url, tmp_path, settings
):
    """Scaled: a worker process publishes, a browser connected to a web process receives."""
    settings.CHANNEL_LAYERS = {"default": redis_channel_layer(redis_url, settings.REDIS_PREFIX)}
    cookie = await sync_to_async(_session_cookie)(member)
    socket = _socket(cookie, ORIGIN)
    assert (await socket.connect())[0]
    try:
        # An idle socket outlives Redis' blocking reads (5 s each) without a read timeout.
        assert await socket.receive_nothing(timeout=7, interval=0.5)
        script = (
            "import django, os; django.setup(); from ascolto.core import realtime; "
            "realtime.publish_on_commit(workspace_id=int(os.environ['WS']), "
            "event='tests.remote.published', payload={'pid': os.getpid()})"
        )
        await _run_elsewhere(script, workspace, redis_url, settings.REDIS_PREFIX, tmp_path)

        message = await socket.receive_json_from(timeout=30)
        assert message["event"] == "tests.remote.published"
        assert message["payload"]["pid"] != os.getpid()
    finally:
        await socket.disconnect()
        await get_channel_layer().flush()


@pytest.mark.redis
@pytest.mark.asyncio
async def test_pushes_of_a_worker_leave_from_its_sender_thread_even_as_it_exits(
    member, workspace, redis_url, tmp_path, settings
):
    """Scaled: a worker process sends its pushes from a loop thread of its own (`ascolto
    worker`); pushes handed over just before the process exits still reach the browser, in
    order."""
    settings.CHANNEL_LAYERS = {"default": redis_channel_layer(redis_url, settings.REDIS_PREFIX)}
    cookie = await sync_to_async(_session_cookie)(member)
    socket = _socket(cookie, ORIGIN)
    assert (await socket.connect())[0]
    try:
        # An idle socket outlives Redis' blocking reads (5 s each) without a read timeout.
        assert await socket.receive_nothing(timeout=7, interval=0.5)
        script = (
            "import django, os; django.setup(); from ascolto.core import realtime; "
            "realtime.start_background_sender(); "
            "[realtime.publish_on_commit(workspace_id=int(os.environ['WS']), "
            "event='tests.remote.published', payload={'pid': n}) for n in range(3)]"
        )
        await _run_elsewhere(script, workspace, redis_url, settings.REDIS_PREFIX, tmp_path)

        received = []
        while len(received) < 3:
            message = await socket.receive_json_from(timeout=30)
            if message["event"] == "tests.remote.published":
                received.append(message["payload"]["pid"])
        assert received == [0, 1, 2]
    finally:
        await socket.disconnect()
        await get_channel_layer().flush()


# --- the contract -------------------------------------------------------------------------


def test_declared_events_are_checked_field_by_field(realtime_schemas):
    realtime.define_event("tests.ticket.moved", ticket_id=int, queue=str)

    realtime.validate_event("tests.ticket.moved", {"ticket_id": 1, "queue": "vip"})
    with pytest.raises(InvalidEvent, match="must have the fields"):
        realtime.validate_event("tests.ticket.moved", {"ticket_id": 1})
    with pytest.raises(InvalidEvent, match="must have the fields"):
        realtime.validate_event("tests.ticket.moved", {"ticket_id": 1, "queue": "a", "x": 1})
    with pytest.raises(InvalidEvent, match="ticket_id"):
        realtime.validate_event("tests.ticket.moved", {"ticket_id": "1", "queue": "vip"})
    with pytest.raises(InvalidEvent, match="ticket_id"):
        realtime.validate_event("tests.ticket.moved", {"ticket_id": True, "queue": "vip"})


@pytest.mark.parametrize(
    ("event", "payload", "problem"),
    [
        ("customerUpdated", {}, "app.entity.verb"),
        ("customers.updated", {}, "app.entity.verb"),
        ("customers.customer.updated", {"when": object()}, "not JSON"),
    ],
)
def test_malformed_events_are_refused_before_anything_is_sent(event, payload, problem):
    with pytest.raises(InvalidEvent, match=problem):
        realtime.publish_on_commit(workspace_id=1, event=event, payload=payload)


@pytest.mark.asyncio
async def test_an_oversized_push_is_dropped_and_the_change_still_commits(
    connected, workspace, caplog
):
    def write() -> None:
        with transaction.atomic():
            _publish(workspace.pk, "tests.note.created", {"text": "x" * realtime.MAX_PAYLOAD_BYTES})

    await sync_to_async(write)()

    assert await connected.receive_nothing(timeout=0.5)
    assert "tests.note.created dropped" in caplog.text


def test_every_declared_event_has_a_valid_name_and_a_sample_payload_that_passes():
    for name, fields in realtime.event_schemas().items():
        assert realtime.EVENT_NAME.fullmatch(name), name
        sample = {field: _sample(kind) for field, kind in fields.items()}
        realtime.validate_event(name, sample)


def _sample(kind: Any) -> Any:
    first = kind[0] if isinstance(kind, tuple) else kind
    return {int: 1, str: "x", bool: True, float: 1.5, list: [], dict: {}}.get(first)


async def _lagging_console_receives_everything(layer: Any, events: int) -> list[int]:
    """A console that reads nothing while `events` are sent to its group, then catches up."""
    channel = await layer.new_channel()
    group = f"tests-lag-{channel.rsplit('!', 1)[-1][:8]}"
    await layer.group_add(group, channel)
    try:
        for n in range(events):
            await layer.group_send(group, {"type": "event", "n": n})
        received = []
        for _ in range(events):
            try:
                message = await asyncio.wait_for(layer.receive(channel), timeout=2)
            except TimeoutError:  # dropped by the layer: nothing more will come
                break
            received.append(message["n"])
        return received
    finally:
        await layer.group_discard(group, channel)


@pytest.mark.asyncio
async def test_a_console_that_falls_behind_loses_no_event_embedded(settings):
    """Channels drops what a full channel is sent, silently: a console a few hundred events
    behind a busy workspace must still get every one (embedded, in-memory layer)."""
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {"default": in_memory_channel_layer()}
    channel_layers.backends.clear()
    try:
        received = await _lagging_console_receives_everything(get_channel_layer(), 500)
    finally:
        channel_layers.backends.clear()
    assert received == list(range(500))


@pytest.mark.redis
@pytest.mark.asyncio
async def test_a_console_that_falls_behind_loses_no_event_scaled(settings, redis_url):
    """The same on the Redis layer the web and worker processes share."""
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {"default": redis_channel_layer(redis_url, settings.REDIS_PREFIX)}
    channel_layers.backends.clear()
    try:
        received = await _lagging_console_receives_everything(get_channel_layer(), 500)
    finally:
        channel_layers.backends.clear()
    assert received == list(range(500))


@pytest.mark.redis
@pytest.mark.asyncio
async def test_a_burst_of_pushes_finds_redis_connections_instead_of_failing(settings, redis_url):
    """Hundreds of pushes at once (a wave of widget messages, each sent to two groups) need
    more connections than redis-py's default pool of 100: none fails."""
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {"default": redis_channel_layer(redis_url, settings.REDIS_PREFIX)}
    channel_layers.backends.clear()
    try:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add("tests.burst", channel)
        async with asyncio.timeout(120):
            await asyncio.gather(
                *(
                    layer.group_send("tests.burst", {"type": "tests.burst", "n": n})
                    for n in range(500)
                )
            )
            received = [
                (await asyncio.wait_for(layer.receive(channel), 5))["n"] for _ in range(500)
            ]
        await layer.group_discard("tests.burst", channel)
        await layer.flush()
    finally:
        channel_layers.backends.clear()
    assert sorted(received) == list(range(500))
