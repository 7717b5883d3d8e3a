"""Survey jobs. Thin: periodic ones hold their lock (several workers never run one twice at
once) and handle each invitation or response in a transaction of its own."""

from __future__ import annotations

import logging

from django.db import transaction
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from ascolto.core.models import Workspace
from ascolto.core.tasks import single_instance
from ascolto.surveys import conf, rollups, services
from ascolto.surveys.models import Survey

logger = logging.getLogger(__name__)

SEND_LOCK = "surveys-send-invitations"
REMIND_LOCK = "surveys-send-reminders"
RELATIONAL_LOCK = "surveys-relational"
STALE_LOCK = "surveys-close-stale"
ROLLUP_LOCK = "surveys-rollups"
INTAKE_SWEEP_LOCK = "surveys-intake-sweep"


@db_periodic_task(crontab(minute="*"))  # type: ignore[untyped-decorator]
@single_instance(SEND_LOCK)
def send_due_invitations() -> int:
    """Send scheduled invitations whose delay has passed. Returns how many went out."""
    sent = 0
    for invitation_id in services.due_invitation_ids():
        try:
            with transaction.atomic():
                sent += services.invitation_send_due(invitation_id=invitation_id)
        except Exception:
            logger.exception("Sending survey invitation %s failed", invitation_id)
    return sent


@db_periodic_task(crontab(minute="*/15"))  # type: ignore[untyped-decorator]
@single_instance(REMIND_LOCK)
def send_reminders() -> int:
    """Send the one reminder of unanswered invitations. Returns how many went out."""
    reminded = 0
    for invitation_id in services.reminder_candidate_ids():
        try:
            with transaction.atomic():
                reminded += services.invitation_remind(invitation_id=invitation_id)
        except Exception:
            logger.exception("Survey reminder %s failed", invitation_id)
    return reminded


@db_periodic_task(crontab(minute="7"))  # type: ignore[untyped-decorator]
@single_instance(RELATIONAL_LOCK)
def invite_relational() -> int:
    """Invite the customers of relational surveys not yet asked in the current period."""
    scheduled = 0
    for survey in Survey.objects.filter(
        trigger=Survey.Trigger.RELATIONAL, is_active=True
    ).select_related("workspace"):
        try:
            with transaction.atomic():
                scheduled += services.relational_invite(survey=survey)
        except Exception:
            logger.exception("Relational invitations of survey %s failed", survey.pk)
    return scheduled


@db_periodic_task(crontab(minute="*/5"))  # type: ignore[untyped-decorator]
@single_instance(STALE_LOCK)
def close_stale_responses() -> int:
    """Complete answers left unfinished (their scores count and the closed loop sees them)."""
    closed = 0
    for response_id in services.stale_response_ids(minutes=conf.stale_minutes()):
        with transaction.atomic():
            closed += services.response_close_stale(response_id=response_id)
    return closed


@db_task(retries=3, retry_delay=60)  # type: ignore[untyped-decorator]
def send_followup_message(followup_id: int) -> bool:
    """Email the "here is what changed" message of a closed follow-up."""
    with transaction.atomic():
        return services.followup_notify(followup_id=followup_id)


@db_periodic_task(crontab(minute="*/5"))  # type: ignore[untyped-decorator]
@single_instance(ROLLUP_LOCK)
def refresh_rollups() -> int:
    """Recompute the daily survey rollups of the days that changed. Returns the days done."""
    done = 0
    for workspace in Workspace.objects.filter(
        pk__in=Survey.objects.values("workspace_id")
    ).order_by("pk"):
        try:
            done += rollups.rollups_refresh(workspace=workspace)
        except Exception:
            logger.exception("Survey rollups of workspace %s failed", workspace.pk)
    return done


@db_task()  # type: ignore[untyped-decorator]
def process_intake() -> int:
    """Complete the pending survey submissions in batches (enqueued after a page submit).
    Several may run at once: each batch claims its rows (services/intake.py)."""
    return services.intake_drain()


@db_periodic_task(crontab(minute="*"))  # type: ignore[untyped-decorator]
@single_instance(INTAKE_SWEEP_LOCK)
def sweep_intake() -> int:
    """Complete submissions a lost wake-up or a dead worker left pending, and forget those
    processed long ago."""
    done = services.intake_drain()
    services.intake_forget_processed()
    return done
