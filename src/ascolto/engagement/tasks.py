"""Engagement jobs: send what quiet hours deferred and what waits a retry; run schedule and
date rules; call rules' webhooks."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from ascolto.core.actors import Actor
from ascolto.core.tasks import single_instance
from ascolto.engagement import actions, lifecycle_events, services, triggers

SENDS_DUE_LOCK = "engagement-sends-due"


@db_periodic_task(crontab(minute="*"))  # type: ignore[untyped-decorator]
@single_instance(SENDS_DUE_LOCK)
def send_due() -> int:
    return services.sends_due(actor=Actor.system("engagement"))


TRIGGERS_DUE_LOCK = "engagement-triggers-due"


@db_periodic_task(crontab(minute="*"))  # type: ignore[untyped-decorator]
@single_instance(TRIGGERS_DUE_LOCK)
def run_due_triggers() -> int:
    """Schedule and date rules whose time has come (engagement/triggers.py: once per period)."""
    return triggers.due_rules_run(actor=Actor.system("engagement"))


@db_task()  # type: ignore[untyped-decorator]
def call_webhook(send_id: int, index: int, attempt: int) -> None:
    """One attempt at a rule's webhook; the next is scheduled with backoff when it failed."""
    actions.webhook_run(send_id=send_id, index=index, attempt=attempt)


LIFECYCLE_EVENTS_LOCK = "engagement-lifecycle-events"


@db_periodic_task(crontab(hour="6", minute="15"))  # type: ignore[untyped-decorator]
@single_instance(LIFECYCLE_EVENTS_LOCK)
def record_lifecycle_events() -> int:
    """Daily: replenishment.due and customer.churn_risk events (engagement.lifecycle_events)."""
    return lifecycle_events.record_all(actor=Actor.system("engagement"))
