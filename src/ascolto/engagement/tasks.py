"""Engagement periodic job: send what quiet hours deferred and what failed and waits a retry."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from ascolto.core.actors import Actor
from ascolto.core.tasks import single_instance
from ascolto.engagement import lifecycle_events, services

SENDS_DUE_LOCK = "engagement-sends-due"


@db_periodic_task(crontab(minute="*"))  # type: ignore[untyped-decorator]
@single_instance(SENDS_DUE_LOCK)
def send_due() -> int:
    return services.sends_due(actor=Actor.system("engagement"))


LIFECYCLE_EVENTS_LOCK = "engagement-lifecycle-events"


@db_periodic_task(crontab(hour="6", minute="15"))  # type: ignore[untyped-decorator]
@single_instance(LIFECYCLE_EVENTS_LOCK)
def record_lifecycle_events() -> int:
    """Daily: replenishment.due and customer.churn_risk events (engagement.lifecycle_events)."""
    return lifecycle_events.record_all(actor=Actor.system("engagement"))
