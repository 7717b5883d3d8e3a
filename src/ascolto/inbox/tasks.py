"""Inbox periodic jobs. Thin: each holds its lock (several workers never run it twice at once)
and calls the inbox's services; every conversation is handled in a transaction of its own."""

from __future__ import annotations

import logging

from django.db import transaction
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from ascolto.core.tasks import single_instance
from ascolto.inbox import routing, services, sla

logger = logging.getLogger(__name__)

SLA_CHECK_LOCK = "inbox-sla-check"
SNOOZE_LOCK = "inbox-snoozed-wake-up"
ROUTING_LOCK = "inbox-route-waiting"


@db_periodic_task(crontab(minute="*"))  # type: ignore[untyped-decorator]
@single_instance(SLA_CHECK_LOCK)
def sla_check() -> dict[str, int]:
    """Fire SLA warnings and breaches that came due, and run escalations."""
    result = sla.sla_check()
    return {"warnings": result.warnings, "breaches": result.breaches}


@db_periodic_task(crontab(minute="*"))  # type: ignore[untyped-decorator]
@single_instance(SNOOZE_LOCK)
def wake_snoozed() -> int:
    """Reopen snoozed conversations whose time has come."""
    with transaction.atomic():
        return services.snoozed_wake_up()


@db_periodic_task(crontab(minute="*"))  # type: ignore[untyped-decorator]
@single_instance(ROUTING_LOCK)
def route_waiting() -> int:
    """Catch-up routing pass: conversations skipped by an event-driven pass (row locked at
    the time, handler failed) are assigned within a minute."""
    assigned = 0
    for workspace_id in routing.workspaces_with_waiting():
        try:
            with transaction.atomic():
                assigned += routing.route_waiting(workspace_id=workspace_id)
        except Exception:
            logger.exception("Routing pass failed for workspace %s", workspace_id)
    return assigned
