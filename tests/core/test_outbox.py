"""The outbox: events written with the change, dispatched after commit, retried, swept, locked."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import redis
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ascolto.core import outbox
from ascolto.core.models import AuditLogEntry, OutboxDelivery, OutboxEvent
from ascolto.core.tasks import SWEEPER_LOCK, exclusive, sweep_outbox
from ascolto.customers import services
from ascolto.customers.models import Customer
from tests.core.conftest import Boom, Recorder, emit_then_fail

pytestmark = pytest.mark.django_db


def _later() -> dt.datetime:
    return timezone.now() + outbox.SWEEP_GRACE + dt.timedelta(seconds=1)


def test_event_is_written_in_the_transaction_of_the_change(workspace, actor):
    with transaction.atomic():
        customer = services.customer_create(workspace=workspace, actor=actor, name="Dana Levi")

    event = OutboxEvent.objects.get(name="customers.customer.created")
    assert event.payload == {"customer_id": customer.pk}
    assert event.workspace_id == workspace.pk


def _create_customer_then_fail(workspace, actor) -> None:  # type: ignore[no-untyped-def]
    with transaction.atomic():
        services.customer_create(workspace=workspace, actor=actor, name="Dana Levi")
        raise Boom


def test_event_is_rolled_back_with_the_change(workspace, actor):
    with pytest.raises(Boom):
        _create_customer_then_fail(workspace, actor)

    assert not Customer.objects.exists()
    assert not OutboxEvent.objects.exists()


def test_handlers_run_after_commit_and_never_inside_the_transaction(
    workspace, recorder: Recorder, django_capture_on_commit_callbacks
):
    outbox.handles("tests.thing.happened")(recorder.handler("seen"))

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        event = outbox.emit(workspace=workspace, name="tests.thing.happened", payload={"n": 1})
        assert recorder.calls == []

    assert [(label, payload) for label, payload, _ in recorder.calls] == [("seen", {"n": 1})]
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert event.attempts == 1


def test_a_rolled_back_event_is_never_dispatched(
    workspace, recorder: Recorder, django_capture_on_commit_callbacks
):
    outbox.handles("tests.thing.happened")(recorder.handler("seen"))

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(Boom):
        emit_then_fail(workspace)

    assert callbacks == []
    assert recorder.calls == []


def test_every_registered_handler_and_the_catch_all_receive_the_event(
    workspace, recorder: Recorder
):
    @outbox.handles("tests.order.placed")
    def specific(event: OutboxEvent) -> None:
        recorder("specific", event.payload)

    @outbox.handles("*")
    def catch_all(event: OutboxEvent) -> None:
        recorder("catch-all", event.payload)

    event = outbox.emit(workspace=workspace, name="tests.order.placed", payload={"order": 7})

    assert outbox.dispatch_event(event.pk) is True

    assert sorted(recorder.labels()) == ["catch-all", "specific"]
    assert OutboxDelivery.objects.filter(event=event).count() == 2


def test_a_retry_runs_only_the_handlers_that_failed(workspace, recorder: Recorder):
    mail_server_up = False

    @outbox.handles("tests.survey.answered")
    def update_rollup(event: OutboxEvent) -> None:
        recorder("rollup", event.payload)

    @outbox.handles("tests.survey.answered")
    def send_thank_you(event: OutboxEvent) -> None:
        recorder("mail", event.payload)
        AuditLogEntry.objects.create(
            workspace=event.workspace, action="mail.sent", object_type="t", object_id="1"
        )
        if not mail_server_up:
            raise ConnectionRefusedError("SMTP is down")

    event = outbox.emit(workspace=workspace, name="tests.survey.answered", payload={"id": 3})

    assert outbox.dispatch_event(event.pk) is False
    event.refresh_from_db()
    assert event.dispatched_at is None
    assert event.attempts == 1
    assert "SMTP is down" in event.last_error
    assert event.next_attempt_at > timezone.now()
    # The failed handler's own writes were rolled back with it: nothing half-done.
    assert not AuditLogEntry.objects.filter(action="mail.sent").exists()

    mail_server_up = True
    assert outbox.dispatch_event(event.pk) is True

    assert recorder.labels() == ["rollup", "mail", "mail"]
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert event.last_error == ""
    assert AuditLogEntry.objects.filter(action="mail.sent").count() == 1


def test_dispatching_a_dispatched_event_again_runs_nothing(workspace, recorder: Recorder):
    outbox.handles("tests.thing.happened")(recorder.handler("seen"))
    event = outbox.emit(workspace=workspace, name="tests.thing.happened", payload={})

    assert outbox.dispatch_event(event.pk) is True
    assert outbox.dispatch_event(event.pk) is True

    assert recorder.labels() == ["seen"]


def test_sweeper_dispatches_an_event_whose_dispatch_was_lost(
    workspace, recorder: Recorder, django_capture_on_commit_callbacks
):
    """The process died between the commit and the enqueue: the after-commit hook never ran."""
    outbox.handles("tests.thing.happened")(recorder.handler("seen"))
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
        event = outbox.emit(workspace=workspace, name="tests.thing.happened", payload={"n": 2})

    # A fresh event may still be on its way through the queue; the sweeper leaves it alone.
    assert outbox.sweep() == 0
    assert outbox.sweep(now=_later()) == 1

    assert recorder.labels() == ["seen"]
    event.refresh_from_db()
    assert event.dispatched_at is not None


def test_a_change_commits_while_the_queue_is_down_and_the_sweeper_delivers_it_later(
    workspace, actor, recorder: Recorder, monkeypatch, django_capture_on_commit_callbacks
):
    outbox.handles("customers.customer.created")(recorder.handler("seen"))

    def queue_down(*args: object, **kwargs: object) -> None:
        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379.")

    monkeypatch.setattr(settings.HUEY, "enqueue", queue_down)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        customer = services.customer_create(workspace=workspace, actor=actor, name="Noa")

    assert Customer.objects.filter(pk=customer.pk).exists()
    assert recorder.calls == []
    monkeypatch.undo()

    assert outbox.sweep(now=_later()) >= 1
    assert ("seen", {"customer_id": customer.pk}) in [(c[0], c[1]) for c in recorder.calls]


def test_sweeper_waits_for_the_backoff_of_a_failed_event(workspace, recorder: Recorder):
    def always_fails(event: OutboxEvent) -> None:
        recorder("try", event.payload)
        raise RuntimeError("still down")

    outbox.handles("tests.thing.happened")(always_fails)
    event = outbox.emit(workspace=workspace, name="tests.thing.happened", payload={})
    outbox.dispatch_event(event.pk)
    event.refresh_from_db()

    assert outbox.sweep(now=event.next_attempt_at - dt.timedelta(seconds=1)) == 0
    assert recorder.labels() == ["try"]
    later = max(event.next_attempt_at, _later())
    assert outbox.sweep(now=later) == 0
    assert recorder.labels() == ["try", "try"]


def test_sweeper_gives_up_after_the_maximum_attempts(workspace, recorder: Recorder):
    outbox.handles("tests.thing.happened")(recorder.handler("seen"))
    event = outbox.emit(workspace=workspace, name="tests.thing.happened", payload={})
    OutboxEvent.objects.filter(pk=event.pk).update(attempts=outbox.MAX_ATTEMPTS)

    assert outbox.sweep(now=_later()) == 0
    assert recorder.calls == []


def test_periodic_sweeper_skips_while_another_worker_holds_its_lock(workspace, recorder: Recorder):
    outbox.handles("tests.thing.happened")(recorder.handler("seen"))
    old = timezone.now() - dt.timedelta(minutes=5)
    OutboxEvent.objects.create(
        workspace=workspace, name="tests.thing.happened", created_at=old, next_attempt_at=old
    )
    holding, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def other_worker() -> None:
        try:
            with exclusive(SWEEPER_LOCK) as acquired:
                assert acquired
                holding.set()
                release.wait(20)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
            holding.set()
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert holding.wait(20)
        assert sweep_outbox.call_local() is None
        assert recorder.calls == []
    finally:
        release.set()
        thread.join(20)
    assert failures == []

    assert sweep_outbox.call_local() == 1
    assert recorder.labels() == ["seen"]


def test_the_lock_is_free_again_after_a_sweep_that_failed(workspace, monkeypatch):
    def broken(**kwargs: object) -> int:
        raise RuntimeError("database went away")

    monkeypatch.setattr(outbox, "sweep", broken)
    with pytest.raises(RuntimeError):
        sweep_outbox.call_local()
    monkeypatch.undo()

    with exclusive(SWEEPER_LOCK) as acquired:
        assert acquired


def test_sweeper_is_scheduled_every_minute():
    for minute in (0, 17, 59):
        moment = dt.datetime(2025, 3, 1, 10, minute)
        due = {task.name for task in settings.HUEY.read_periodic(moment)}
        assert sweep_outbox.s().name in due
