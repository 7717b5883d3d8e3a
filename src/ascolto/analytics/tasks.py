"""Analytics jobs: refresh the conversation rollups, check metric targets daily and send the
weekly digest. Each holds a lock so that several workers never run them twice at once
(docs/decisions/0006-periodic-job-locks.md); the digest is also idempotent per week."""

from __future__ import annotations

import logging

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from ascolto.analytics import rollups, targets
from ascolto.analytics.models import MetricTarget
from ascolto.core.models import Workspace
from ascolto.core.tasks import single_instance
from ascolto.inbox.models import Conversation

logger = logging.getLogger(__name__)

CHECK_LOCK = "analytics-targets-check"
DIGEST_LOCK = "analytics-weekly-digest"
ROLLUP_LOCK = "analytics-rollups"


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
