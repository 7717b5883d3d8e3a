"""Analytics jobs: refresh the conversation rollups and the agent-day and assistant-day rows,
check metric targets daily, send the weekly digest and refresh the journey and customer-value
snapshots hourly. Each holds a lock so that several workers never run them twice at once
(docs/decisions/0006-periodic-job-locks.md); the digest is also idempotent per week. Journey and
value snapshots are also computed on demand (the page of a large workspace queues them)."""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from ascolto.analytics import rollups, targets, workload_rollups
from ascolto.analytics.dashboards import value
from ascolto.analytics.dashboards.filters import parse_filters
from ascolto.analytics.enps import services as enps_services
from ascolto.analytics.journey import snapshots
from ascolto.analytics.models import MetricTarget
from ascolto.assistant.models import BotSession, DeflectionOffer
from ascolto.core.models import Workspace
from ascolto.core.tasks import single_instance
from ascolto.inbox.models import AvailabilitySpan, Conversation

logger = logging.getLogger(__name__)

CHECK_LOCK = "analytics-targets-check"
DIGEST_LOCK = "analytics-weekly-digest"
ROLLUP_LOCK = "analytics-rollups"
WORKLOAD_LOCK = "analytics-workload-rollups"


@db_periodic_task(crontab(minute="*/5"))  # type: ignore[untyped-decorator]
@single_instance(ROLLUP_LOCK)
def refresh_rollups() -> int:
    """Recompute the daily conversation rollups of the days that changed. Returns the days
    done; a workspace that fails is logged and the others still run."""
    done = 0
    for workspace in Workspace.objects.filter(
        pk__in=Conversation.objects.values("workspace_id")
    ).order_by("pk"):
        try:
            done += rollups.rollups_refresh(workspace=workspace)
        except Exception:
            logger.exception("Conversation rollups of workspace %s failed", workspace.pk)
    return done


@db_periodic_task(crontab(minute="*/5"))  # type: ignore[untyped-decorator]
@single_instance(WORKLOAD_LOCK)
def refresh_workload_rollups() -> int:
    """Recompute the agent-day and assistant-day rows of the days that changed, ended or
    settled. Returns the days done; a workspace that fails is logged and the others still
    run."""
    done = 0
    with_data = (
        Workspace.objects.filter(pk__in=AvailabilitySpan.objects.values("workspace_id"))
        | Workspace.objects.filter(pk__in=BotSession.objects.values("workspace_id"))
        | Workspace.objects.filter(pk__in=DeflectionOffer.objects.values("workspace_id"))
    )
    for workspace in with_data.distinct().order_by("pk"):
        try:
            done += workload_rollups.workload_refresh(workspace=workspace)
        except Exception:
            logger.exception("Workload rollups of workspace %s failed", workspace.pk)
    return done


JOURNEY_LOCK = "analytics-journey-snapshots"
VALUE_LOCK = "analytics-value-snapshots"


@db_periodic_task(crontab(minute="15", hour="6"))  # type: ignore[untyped-decorator]
@single_instance(CHECK_LOCK)
def check_targets() -> int:
    """Alert owners of off-target metrics in the app. Returns how many alerts were raised."""
    now = timezone.now()
    ids = MetricTarget.objects.values_list("workspace_id", flat=True).distinct()
    return sum(
        len(targets.targets_check(workspace=w, now=now))
        for w in Workspace.objects.filter(pk__in=ids)
    )


@db_periodic_task(crontab(minute="0", hour="7", day_of_week="1"))  # type: ignore[untyped-decorator]
@single_instance(DIGEST_LOCK)
def send_weekly_digests() -> int:
    return targets.weekly_digests_send(now=timezone.now())


@db_periodic_task(crontab(minute="5"))  # type: ignore[untyped-decorator]
@single_instance(JOURNEY_LOCK)
def refresh_journey_snapshots() -> int:
    """Every hour: the preset journey periods of the large workspaces."""
    return snapshots.snapshots_refresh(now=timezone.now())


@db_periodic_task(crontab(minute="35"))  # type: ignore[untyped-decorator]
@single_instance(VALUE_LOCK)
def refresh_value_snapshots() -> int:
    """Every hour: the preset customer-value periods of the large workspaces."""
    return value.snapshots_refresh(now=timezone.now())


@db_task()  # type: ignore[untyped-decorator]
def compute_journey_snapshot(workspace_id: int, params: dict[str, Any]) -> None:
    """One journey snapshot asked for by the page or the API (params: the filters' query form).
    A workspace deleted meanwhile is skipped."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return
    filters = parse_filters(params, workspace=workspace)
    snapshots.snapshot_compute(workspace=workspace, filters=filters)


ENPS_LOCK = "analytics-enps-pulses"


@db_periodic_task(crontab(minute="20"))  # type: ignore[untyped-decorator]
@single_instance(ENPS_LOCK)
def open_enps_pulses() -> int:
    """Every hour: open each workspace's employee NPS pulse when its period has none (the
    unique constraint per period keeps a second run from opening another), and forget who
    answered the pulses that closed. Returns how many pulses were opened."""
    now = timezone.now()
    opened = enps_services.pulses_open_due(now=now)
    enps_services.pulses_forget_respondents(now=now)
    return len(opened)


@db_task()  # type: ignore[untyped-decorator]
def compute_value_snapshot(workspace_id: int, params: dict[str, Any]) -> None:
    """One customer-value snapshot the dashboard of a large workspace found stale (params: the
    filters' query form). A workspace deleted meanwhile is skipped."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return
    filters = parse_filters(params, workspace=workspace)
    value.snapshot_compute(workspace=workspace, filters=filters)
