"""Engagement jobs: send what quiet hours deferred and what waits a retry (periodic); run
schedule and date rules; call rules' webhooks; record lifecycle events; run campaigns."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from ascolto.core.actors import Actor
from ascolto.core.models import Job
from ascolto.core.tasks import exclusive, single_instance
from ascolto.engagement import actions, campaigns, lifecycle_events, services, triggers

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


@db_task()  # type: ignore[untyped-decorator]
def run_campaign(campaign_id: int, job_id: int | None = None) -> None:
    """Run a campaign's job; when it must wait (throttle, quiet hours, a retry, a start time)
    the task schedules itself again for then. One run per campaign at a time."""
    with exclusive(f"engagement-campaign-{campaign_id}") as acquired:
        if not acquired:
            return  # another worker is running it and will see the same rows
        job = Job.objects.filter(pk=job_id).first() if job_id is not None else None
        outcome = campaigns.campaign_run(
            campaign_id=campaign_id, actor=Actor.system("engagement"), job=job
        )
    if outcome.state == "waiting" and outcome.retry_at is not None:
        run_campaign.schedule(args=(campaign_id, job_id), eta=outcome.retry_at)
