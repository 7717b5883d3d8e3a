"""Nightly recompute of bought-together pairs and item cycles, one workspace per transaction."""

from __future__ import annotations

from django.db import transaction
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from ascolto.core.models import Workspace
from ascolto.core.tasks import single_instance
from ascolto.recommendations import services

RECOMPUTE_LOCK = "recommendations-recompute"


def recompute_all() -> int:
    """Recompute every workspace; returns the number of pairs stored."""
    pairs = 0
    for workspace in Workspace.objects.order_by("pk"):
        with transaction.atomic():
            pairs += services.affinities_recompute(workspace=workspace).pairs
    return pairs


# Nightly, before the working day: the pairs and cycles the day's pages and templates read.
@db_periodic_task(crontab(hour="3", minute="40"))  # type: ignore[untyped-decorator]
@single_instance(RECOMPUTE_LOCK)
def recompute() -> int:
    return recompute_all()
