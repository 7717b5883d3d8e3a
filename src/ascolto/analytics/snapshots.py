"""Snapshots: a dashboard's figures for one period and filters, computed once and stored, so a
large workspace's page reads one row instead of recomputing them.

Each kind (`Snapshot.Kind`: the customer journey, customer value) brings its own computation,
the form of its `data`, what makes a workspace large and how stale a row it shows; this module
keeps the rows the same way for all of them: one row per kind, period and filters (the filters
other than the period, in the kind's `filters_key`), stored with `store`, found with `rows`,
a computation queued at most once per REQUEUE_AFTER with `request`, and the hourly refresh of
the preset periods of the large workspaces with `refresh_presets`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from ascolto.analytics.dashboards.filters import DashboardFilters
from ascolto.analytics.models import Snapshot
from ascolto.core.models import Workspace

REQUEUE_AFTER = dt.timedelta(minutes=10)


def lookup(kind: str, workspace: Workspace, filters: DashboardFilters, key: str) -> dict[str, Any]:
    """What identifies the row of a kind, period and filters (`key`: the kind's filters key)."""
    return {
        "workspace": workspace,
        "kind": kind,
        "first_day": filters.period.first_day,
        "last_day": filters.period.last_day,
        "filters_key": key,
    }


def rows(
    kind: str, workspace: Workspace, filters: DashboardFilters, key: str
) -> QuerySet[Snapshot]:
    """The row (at most one) of a kind, period and filters."""
    return Snapshot.objects.filter(**lookup(kind, workspace, filters, key))


def store(
    kind: str, workspace: Workspace, filters: DashboardFilters, key: str, data: dict[str, Any]
) -> Snapshot:
    """Store freshly computed figures, clearing a queued request."""
    where = lookup(kind, workspace, filters, key)
    values = {"data": data, "computed_at": timezone.now(), "requested_at": None}
    try:
        with transaction.atomic():
            snapshot, _created = Snapshot.objects.update_or_create(**where, defaults=values)
    except IntegrityError:  # stored by a concurrent request meanwhile
        Snapshot.objects.filter(**where).update(**values)
        snapshot = Snapshot.objects.get(**where)
    return snapshot


def request(
    kind: str,
    workspace: Workspace,
    filters: DashboardFilters,
    key: str,
    *,
    now: dt.datetime,
    enqueue: Callable[[], object],
) -> bool:
    """Queue the computation (`enqueue`, after commit) unless one was queued within
    REQUEUE_AFTER; the row is created empty if there is none yet. Returns whether it queued."""
    where = lookup(kind, workspace, filters, key)
    try:
        with transaction.atomic():
            Snapshot.objects.get_or_create(**where)
    except IntegrityError:  # created by a concurrent request
        pass
    queued = (
        Snapshot.objects.filter(**where)
        .exclude(requested_at__gt=now - REQUEUE_AFTER)
        .update(requested_at=now)
    )
    if queued:
        transaction.on_commit(enqueue)
    return bool(queued)


def refresh_presets(
    *,
    now: dt.datetime,
    presets: Callable[[Workspace, dt.date], list[DashboardFilters]],
    is_large: Callable[[Workspace, list[DashboardFilters]], bool],
    compute: Callable[[Workspace, DashboardFilters], object],
) -> int:
    """Compute the preset periods (`presets`, from the workspace's today) of every workspace
    `is_large` says needs snapshots. Returns how many were stored."""
    stored = 0
    for workspace in Workspace.objects.order_by("pk"):
        today = now.astimezone(ZoneInfo(workspace.timezone)).date()
        found = presets(workspace, today)
        if not is_large(workspace, found):
            continue
        for filters in found:
            compute(workspace, filters)
            stored += 1
    return stored
