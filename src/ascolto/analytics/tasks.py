"""Analytics jobs: check metric targets daily and send the weekly digest. Both hold a lock so
that several workers never run them twice at once; the digest is also idempotent per week."""

from __future__ import annotations

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from ascolto.analytics import targets
from ascolto.analytics.models import MetricTarget
from ascolto.core.models import Workspace
from ascolto.core.tasks import single_instance

CHECK_LOCK = "analytics-targets-check"
DIGEST_LOCK = "analytics-weekly-digest"


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
