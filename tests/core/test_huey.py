"""Huey wiring: committed outbox events travel through a real queue to real consumer threads.

Embedded: the SQLite queue in the data dir (what `ascolto serve` consumes in-process).
Scaled: Redis (what `ascolto worker` consumes).
"""

from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.db import transaction
from huey.storage import RedisStorage, SqliteStorage

from ascolto.core import outbox
from ascolto.core.models import OutboxEvent
from tests.core.conftest import Boom, Recorder, consuming, emit_then_fail, queue_on, wait_until


def _emit_committed(workspace, n: int) -> int:  # type: ignore[no-untyped-def]
    with transaction.atomic():
        event = outbox.emit(workspace=workspace, name="tests.queue.travelled", payload={"n": n})
    return event.pk


def _assert_dispatched_by_workers(recorder: Recorder, event_ids: list[int]) -> None:
    threads = {thread for _, _, thread in recorder.calls}
    assert threads
    assert all(name.startswith("Worker-") for name in threads), threads
    assert threading.current_thread().name not in threads
    assert sorted(payload["n"] for _, payload, _ in recorder.calls) == list(range(len(event_ids)))
    events = OutboxEvent.objects.filter(pk__in=event_ids)
    assert all(event.dispatched_at is not None for event in events)


@pytest.mark.django_db(transaction=True)
def test_sqlite_queue_is_consumed_by_worker_threads(workspace, recorder: Recorder, tmp_path):
    outbox.handles("tests.queue.travelled")(recorder.handler("dispatched"))
    storage = SqliteStorage(name="ascolto", filename=str(tmp_path / "jobs.sqlite3"))

    with queue_on(storage) as huey:
        event_ids = [_emit_committed(workspace, n) for n in range(3)]
        assert recorder.calls == []
        assert huey.pending_count() == 3
        with consuming(huey):
            wait_until(lambda: len(recorder.calls) == 3)

    _assert_dispatched_by_workers(recorder, event_ids)


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_redis_queue_is_consumed_by_worker_threads(workspace, recorder: Recorder, redis_url: str):
    outbox.handles("tests.queue.travelled")(recorder.handler("dispatched"))
    storage = RedisStorage(name=f"{settings.REDIS_PREFIX}-queue-test", url=redis_url)

    with queue_on(storage) as huey:
        event_ids = [_emit_committed(workspace, n) for n in range(3)]
        assert recorder.calls == []
        assert huey.pending_count() == 3
        with consuming(huey):
            wait_until(lambda: len(recorder.calls) == 3)

    _assert_dispatched_by_workers(recorder, event_ids)


@pytest.mark.django_db(transaction=True)
def test_a_job_enqueued_inside_a_rolled_back_transaction_never_runs(
    workspace, recorder: Recorder, tmp_path
):
    outbox.handles("tests.queue.travelled")(recorder.handler("dispatched"))
    storage = SqliteStorage(name="ascolto", filename=str(tmp_path / "jobs.sqlite3"))

    with queue_on(storage) as huey:
        with pytest.raises(Boom):
            emit_then_fail(workspace, "tests.queue.travelled")
        committed = _emit_committed(workspace, 1)
        assert huey.pending_count() == 1
        with consuming(huey):
            wait_until(lambda: len(recorder.calls) == 1)

    assert [payload for _, payload, _ in recorder.calls] == [{"n": 1}]
    assert list(OutboxEvent.objects.values_list("pk", flat=True)) == [committed]


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_finished_jobs_leave_no_result_in_redis(workspace, recorder: Recorder, redis_url: str):
    """No job's return value is ever read: kept, they would pile up in Redis for good (the
    outbox and intake jobs alone run several times a second under load)."""
    outbox.handles("tests.queue.travelled")(recorder.handler("dispatched"))
    storage = RedisStorage(name=f"{settings.REDIS_PREFIX}-results-test", url=redis_url)

    with queue_on(storage) as huey:
        for n in range(3):
            _emit_committed(workspace, n)
        with consuming(huey):
            wait_until(lambda: len(recorder.calls) == 3 and huey.pending_count() == 0)
        assert storage.conn.hlen(storage.result_key) == 0
        assert huey.result_count() == 0
