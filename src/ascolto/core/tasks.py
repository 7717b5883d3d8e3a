"""Kernel jobs: outbox dispatch and its sweeper. Thin: they take ids and call the outbox."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from ascolto.core import outbox


@db_task(retries=3, retry_delay=5)
def dispatch_outbox_event(event_id: int) -> None:
    outbox.dispatch_event(event_id)


@db_periodic_task(crontab(minute="*"))
@lock_task("outbox-sweeper")
def sweep_outbox() -> None:
    outbox.sweep()
