"""The transactional outbox (GUIDE §3).

`emit` writes an OutboxEvent in the caller's transaction and schedules its dispatch after commit.
`dispatch_event` runs every handler registered for the event name, each in its own savepoint,
recording completed handlers in OutboxDelivery, so a retry runs only what has not completed.
`dispatch_events` does the same for many events at once, keeping OutboxDelivery records only for
the events it leaves to be retried.
`sweep` re-dispatches events whose dispatch never happened (worker died, queue lost) or failed.

Handlers live in `<app>/handlers.py`, are registered with `@handles("event.name")` and must be
idempotent: delivery is at least once.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from ascolto.core.bulkinsert import insert_rows
from ascolto.core.models import OutboxDelivery, OutboxEvent, Workspace

logger = logging.getLogger(__name__)

Handler = Callable[[OutboxEvent], None]
BatchHandler = Callable[[list[OutboxEvent]], None]
_registry: dict[str, list[tuple[str, Handler]]] = {}
# Handlers that take many events of one name at once (`handles_many`), by handler id.
_batch: dict[str, BatchHandler] = {}

MAX_ATTEMPTS = 12
SWEEP_GRACE = timedelta(seconds=30)


def handles(*event_names: str) -> Callable[[Handler], Handler]:
    """Register a handler for event names; "*" receives every event."""

    def register(func: Handler) -> Handler:
        handler_id = f"{func.__module__}.{func.__qualname__}"
        for name in event_names:
            entries = _registry.setdefault(name, [])
            if all(existing_id != handler_id for existing_id, _ in entries):
                entries.append((handler_id, func))
        return func

    return register


def handles_many(*event_names: str) -> Callable[[BatchHandler], BatchHandler]:
    """Register a handler that takes a list of events of these names at once (a batch
    dispatch, `dispatch_events`: one routing pass for many messages, say). A single event is
    handed over as a list of one. The contract is the per-event one, for each event of the
    list: idempotent, and a failure means none of them is recorded as handled."""

    def register(func: BatchHandler) -> BatchHandler:
        handler_id = f"{func.__module__}.{func.__qualname__}"
        _batch[handler_id] = func

        def one(event: OutboxEvent) -> None:
            func([event])

        for name in event_names:
            entries = _registry.setdefault(name, [])
            if all(existing_id != handler_id for existing_id, _ in entries):
                entries.append((handler_id, one))
        return func

    return register


def handlers_for(event_name: str) -> list[tuple[str, Handler]]:
    """The handlers of an event, each once. A handler's id is its dotted path, recorded in
    OutboxDelivery, so it must stay stable across deploys (name handlers; no lambdas)."""
    unique: dict[str, Handler] = {}
    for handler_id, func in [*_registry.get(event_name, []), *_registry.get("*", [])]:
        unique.setdefault(handler_id, func)
    return list(unique.items())


def autodiscover_handlers() -> None:
    for config in apps.get_app_configs():
        if not config.name.startswith("ascolto."):
            continue
        try:
            importlib.import_module(f"{config.name}.handlers")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.handlers":
                raise


def emit(*, workspace: Workspace, name: str, payload: dict[str, Any]) -> OutboxEvent:
    """Write an event in the current transaction; it is dispatched once the transaction commits."""
    event = OutboxEvent.objects.create(workspace=workspace, name=name, payload=payload)
    event_id = event.pk
    transaction.on_commit(lambda: _enqueue(event_id))
    return event


def emit_many(*, events: list[OutboxEvent]) -> list[OutboxEvent]:
    """`emit` for many unsaved events at once (one insert), dispatched together after commit
    (`dispatch_events`, in batches of ASCOLTO_OUTBOX_BATCH)."""
    created = insert_rows(OutboxEvent, events)
    ids = [event.pk for event in created]
    size = settings.ASCOLTO_OUTBOX_BATCH
    for start in range(0, len(ids), size):
        transaction.on_commit(functools.partial(_enqueue_many, ids[start : start + size]))
    return created


def _enqueue(event_id: int) -> None:
    from ascolto.core.tasks import dispatch_outbox_event

    try:
        dispatch_outbox_event(event_id)
    except Exception:
        # The queue being down must not fail the request that already committed: the sweeper
        # finds the event later.
        logger.exception("Could not enqueue outbox event %s; the sweeper will retry it", event_id)


def _enqueue_many(event_ids: list[int]) -> None:
    from ascolto.core.tasks import dispatch_outbox_events

    try:
        dispatch_outbox_events(event_ids)
    except Exception:
        logger.exception(
            "Could not enqueue %d outbox events; the sweeper will retry them", len(event_ids)
        )


def dispatch_events(event_ids: list[int]) -> int:
    """Dispatch many events: those of one name in one transaction, each handler called once
    with all of them (`handles_many`) or once per event, recording completed handlers in one
    insert. Returns how many events were fully dispatched.

    Events another dispatcher holds, or already dispatched, are skipped (SKIP LOCKED). A batch
    handler that fails is called again for each event on its own, so one bad event fails
    alone, as in `dispatch_event`. A group that fails as a whole (a deadlock, a lost
    connection) is dispatched again one event per transaction.
    """
    names: dict[str, list[int]] = {}
    for event_id, name in (
        OutboxEvent.objects.filter(pk__in=event_ids, dispatched_at__isnull=True)
        .order_by("pk")
        .values_list("pk", "name")
    ):
        names.setdefault(name, []).append(event_id)
    completed = 0
    for name in sorted(names):
        try:
            completed += _dispatch_group(name, names[name])
        except DatabaseError:
            logger.warning("Outbox batch of %s rolled back; one at a time", name, exc_info=True)
            completed += sum(1 for event_id in names[name] if dispatch_event(event_id))
    return completed


def _dispatch_group(name: str, event_ids: list[int]) -> int:
    with transaction.atomic():
        batch = list(
            OutboxEvent.objects.select_for_update(skip_locked=settings.IS_POSTGRES)
            .filter(pk__in=event_ids, dispatched_at__isnull=True)
            .order_by("pk")
        )
        if not batch:
            return 0
        done: set[tuple[int, str]] = set(
            OutboxDelivery.objects.filter(event__in=batch).values_list("event_id", "handler")
        )
        errors: dict[int, list[str]] = {}
        delivered: list[tuple[int, str]] = []  # (event id, handler) pairs completed
        for handler_id, func in handlers_for(name):
            todo = [event for event in batch if (event.pk, handler_id) not in done]
            if not todo:
                continue
            many = _batch.get(handler_id)
            if many is not None and len(todo) > 1:
                try:
                    with transaction.atomic():
                        many(todo)
                except Exception:
                    logger.warning(
                        "Outbox handler %s failed on a batch; one event at a time",
                        handler_id,
                        exc_info=True,
                    )
                else:
                    delivered += [(e.pk, handler_id) for e in todo]
                    continue
            for event in todo:
                try:
                    with transaction.atomic():
                        func(event)
                except Exception as exc:
                    logger.exception("Outbox handler %s failed on event %s", handler_id, event.pk)
                    errors.setdefault(event.pk, []).append(f"{handler_id}: {exc!r}")
                else:
                    delivered.append((event.pk, handler_id))
        # An event whose handlers all completed is marked dispatched below, in this transaction,
        # and never read again: its handlers' records would say nothing more. Only the events
        # to be retried keep theirs, so the retry runs just what failed.
        OutboxDelivery.objects.bulk_create(
            OutboxDelivery(event_id=event_id, handler=handler)
            for event_id, handler in delivered
            if event_id in errors
        )
        now = timezone.now()
        OutboxEvent.objects.filter(pk__in=[e.pk for e in batch if e.pk not in errors]).update(
            attempts=F("attempts") + 1, dispatched_at=now, last_error=""
        )
        for event in batch:
            failed = errors.get(event.pk)
            if failed:
                event.attempts += 1
                event.last_error = "\n".join(failed)[:4000]
                event.next_attempt_at = now + timedelta(seconds=min(3600, 2**event.attempts))
                event.save(update_fields=["attempts", "last_error", "next_attempt_at"])
        return len(batch) - len(errors)


def dispatch_event(event_id: int) -> bool:
    """Run the handlers of one event that have not completed yet.

    Returns False when a handler failed (the event is retried later with backoff, running only
    the failed handlers), True otherwise, including when there is nothing left for this caller
    to do: the event is already dispatched, or another dispatcher holds it. Takes a row lock on
    PostgreSQL (SKIP LOCKED, so a concurrent dispatcher leaves it alone); on SQLite the IMMEDIATE
    transaction serialises writers.
    """
    with transaction.atomic():
        event = (
            OutboxEvent.objects.select_for_update(skip_locked=settings.IS_POSTGRES)
            .filter(pk=event_id, dispatched_at__isnull=True)
            .first()
        )
        if event is None:
            return True
        done = set(event.deliveries.values_list("handler", flat=True))
        errors: list[str] = []
        for handler_id, func in handlers_for(event.name):
            if handler_id in done:
                continue
            try:
                with transaction.atomic():
                    func(event)
                    OutboxDelivery.objects.create(event=event, handler=handler_id)
            except Exception as exc:
                logger.exception("Outbox handler %s failed on event %s", handler_id, event.pk)
                errors.append(f"{handler_id}: {exc!r}")
        event.attempts += 1
        now = timezone.now()
        if errors:
            event.last_error = "\n".join(errors)[:4000]
            event.next_attempt_at = now + timedelta(seconds=min(3600, 2**event.attempts))
        else:
            event.dispatched_at = now
            event.last_error = ""
        event.save(update_fields=["attempts", "last_error", "next_attempt_at", "dispatched_at"])
        return not errors


def pending_event_ids(*, limit: int, now: Any = None) -> list[int]:
    now = now or timezone.now()
    return list(
        OutboxEvent.objects.filter(
            dispatched_at__isnull=True,
            next_attempt_at__lte=now,
            created_at__lte=now - SWEEP_GRACE,
            attempts__lt=MAX_ATTEMPTS,
        )
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def sweep(*, limit: int | None = None, now: Any = None) -> int:
    """Dispatch events left behind. Returns how many were fully dispatched."""
    return dispatch_events(pending_event_ids(limit=limit or settings.ASCOLTO_OUTBOX_BATCH, now=now))
