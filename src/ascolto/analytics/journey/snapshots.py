"""Journey snapshots: the journey of a period and filters computed once and stored, so the page
and the API read one row.

The rows are kept by `analytics.snapshots` (kind "journey"). Reading (`journey_for_page`): a
snapshot computed within FRESH_FOR is used as it is; otherwise a small workspace (fewer than
DIRECT_ROWS conversations, orders and survey answers in the period) is computed directly, and a
large one gets the computation queued (once per REQUEUE_AFTER) and answers "being computed"
until the worker has stored it. Every hour a job refreshes the preset periods (PRESET_DAYS, all
tiers and each tier) of the large workspaces. The stored figures are exactly the direct
computation's (labels are translated on reading).

A snapshot also keeps the first page (DRILL_LIMIT customers, unhappy first, and conversations)
behind each stage and cause with their counts, so a drill-down (`drill_for_page`) reads one key
of one row at any volume. The page reads only the figures' keys of the row, not those pages.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from ascolto.analytics import snapshots
from ascolto.analytics.dashboards.filters import TIERS, DashboardFilters, parse_filters
from ascolto.analytics.journey import selectors
from ascolto.analytics.journey.compute import DrillPage
from ascolto.analytics.journey.stages import STAGE_LABELS
from ascolto.analytics.models import Snapshot
from ascolto.core.models import Workspace
from ascolto.customers.models import Order
from ascolto.inbox.models import Conversation
from ascolto.surveys.models import Response

KIND = Snapshot.Kind.JOURNEY
FRESH_FOR = dt.timedelta(hours=1)
DIRECT_ROWS = 5_000
PRESET_DAYS = (7, 28, 90)


@dataclass(frozen=True)
class JourneyRead:
    """What the page shows: the journey (None while being computed) and when it was computed
    (None when computed for this request)."""

    journey: selectors.Journey | None
    computed_at: dt.datetime | None

    @property
    def pending(self) -> bool:
        return self.journey is None


def filters_key(filters: DashboardFilters) -> str:
    """The filters other than the period, in their query-string form."""
    params = filters.params()
    params.pop("from", None)
    params.pop("to", None)
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()))


def _page_data(page: DrillPage) -> dict[str, Any]:
    return {
        "customers": [[pk, int(unhappy)] for pk, unhappy in page.customers],
        "conversations": page.conversations,
        "customer_count": page.customer_count,
        "conversation_count": page.conversation_count,
        "unhappy_count": page.unhappy_count,
    }


def _page_of(data: dict[str, Any]) -> DrillPage:
    return DrillPage(
        customers=[(int(pk), bool(unhappy)) for pk, unhappy in data["customers"]],
        conversations=[int(pk) for pk in data["conversations"]],
        customer_count=int(data["customer_count"]),
        conversation_count=int(data["conversation_count"]),
        unhappy_count=int(data["unhappy_count"]),
    )


def to_data(journey: selectors.Journey) -> dict[str, Any]:
    data: dict[str, Any] = {
        "customers": journey.customers,
        "unhappy": journey.unhappy,
        "stages": [dataclasses.asdict(s) for s in journey.stages],
        "pain_points": [dataclasses.asdict(p) for p in journey.pain_points],
    }
    if journey.drill is not None:
        data["drill"] = {key: _page_data(page) for key, page in journey.drill.items()}
    return data


def from_data(data: dict[str, Any]) -> selectors.Journey:
    """The stored figures, with labels in the current language (the drill-down pages are read
    one at a time by `drill_for_page`)."""
    stages = [
        selectors.StageFigures(**{**s, "label": str(STAGE_LABELS[s["stage"]])})
        for s in data["stages"]
    ]
    points = [
        selectors.PainPoint(**{**p, "label": selectors.cause_label(p["key"])})
        for p in data["pain_points"]
    ]
    return selectors.Journey(stages, points, data["customers"], data["unhappy"])


FIGURE_KEYS = ("customers", "unhappy", "stages", "pain_points")


def _rows(workspace: Workspace, filters: DashboardFilters) -> QuerySet[Snapshot]:
    return snapshots.rows(KIND, workspace, filters, filters_key(filters))


def is_large(workspace: Workspace, filters: DashboardFilters) -> bool:
    """Whether the period holds DIRECT_ROWS or more conversations, orders and survey answers
    (each count stops at the limit)."""
    start, end = filters.period.start, filters.period.end
    rows = 0
    for queryset in (
        Conversation.objects.filter(workspace=workspace, created_at__gte=start, created_at__lt=end),
        Order.objects.filter(workspace=workspace, placed_at__gte=start, placed_at__lt=end),
        Response.objects.filter(workspace=workspace, created_at__gte=start, created_at__lt=end),
    ):
        rows += queryset.values("pk")[: DIRECT_ROWS - rows].count()
        if rows >= DIRECT_ROWS:
            return True
    return False


def snapshot_compute(*, workspace: Workspace, filters: DashboardFilters) -> Snapshot:
    """Compute the journey of the period and filters and store it as the snapshot."""
    journey = selectors.journey(workspace=workspace, filters=filters, drill=True)
    return snapshots.store(KIND, workspace, filters, filters_key(filters), to_data(journey))


def _request(workspace: Workspace, filters: DashboardFilters, now: dt.datetime) -> None:
    """Queue the computation unless one was queued within REQUEUE_AFTER."""
    from ascolto.analytics import tasks

    params = filters.params()
    snapshots.request(
        KIND,
        workspace,
        filters,
        filters_key(filters),
        now=now,
        enqueue=lambda: tasks.compute_journey_snapshot(workspace.pk, params),
    )


def journey_for_page(
    *, workspace: Workspace, filters: DashboardFilters, now: dt.datetime | None = None
) -> JourneyRead:
    """The journey of the period and filters: from a fresh snapshot, computed now for a small
    workspace, or queued for a large one (journey None)."""
    now = now or timezone.now()
    row = (
        _rows(workspace, filters)
        .filter(computed_at__gte=now - FRESH_FOR)
        .values_list("computed_at", *(KeyTransform(key, "data") for key in FIGURE_KEYS))
        .first()
    )
    if row is not None and row[0] is not None:
        try:
            return JourneyRead(from_data(dict(zip(FIGURE_KEYS, row[1:], strict=True))), row[0])
        except (KeyError, TypeError):  # written by an older version: computed again below
            pass
    if not is_large(workspace, filters):
        return JourneyRead(selectors.journey(workspace=workspace, filters=filters), None)
    _request(workspace, filters, now)
    return JourneyRead(None, None)


def preset_filters(workspace: Workspace, today: dt.date) -> list[DashboardFilters]:
    """The periods the page offers (the last PRESET_DAYS days), for all tiers and each tier."""
    found = []
    for days in PRESET_DAYS:
        first = today - dt.timedelta(days=days - 1)
        for tier in ("", *TIERS):
            params = {"from": first.isoformat(), "to": today.isoformat(), "tier": tier}
            found.append(parse_filters(params, workspace=workspace, today=today))
    return found


def snapshots_refresh(*, now: dt.datetime | None = None) -> int:
    """Recompute the preset snapshots of every large workspace (judged on the longest period,
    all tiers). Returns how many were stored."""
    return snapshots.refresh_presets(
        now=now or timezone.now(),
        presets=preset_filters,
        is_large=lambda workspace, presets: is_large(workspace, presets[-len(TIERS) - 1]),
        compute=lambda workspace, filters: snapshot_compute(workspace=workspace, filters=filters),
    )


def drill_for_page(
    *,
    workspace: Workspace,
    filters: DashboardFilters,
    stage: str = "",
    cause: str = "",
    now: dt.datetime | None = None,
    rows: bool = True,
) -> selectors.Drill:
    """The customers and conversations behind a stage or a cause: the page kept in a fresh
    snapshot (one key of one row); without one, computed directly for a small workspace, and
    for a large one the snapshot is computed now and stored (seconds at a million
    conversations) so the next drill-downs read it. Raises ValidationFailed as
    `selectors.drill_key`. Without `rows`, only the ids of the page (`selectors.drill_of_page`)."""
    key = selectors.drill_key(stage=stage, cause=cause)
    now = now or timezone.now()
    row = (
        _rows(workspace, filters)
        .filter(computed_at__gte=now - FRESH_FOR, data__has_key="drill")
        .values_list("computed_at", KeyTransform(key, KeyTransform("drill", "data")))
        .first()
    )
    if row is not None and row[0] is not None:
        try:
            page = DrillPage() if row[1] is None else _page_of(row[1])
        except (KeyError, TypeError, ValueError):  # written by an older version
            pass
        else:
            return selectors.drill_of_page(workspace=workspace, key=key, page=page, rows=rows)
    if not is_large(workspace, filters):
        return selectors.journey_drill(
            workspace=workspace, filters=filters, stage=stage, cause=cause
        )
    snapshot = snapshot_compute(workspace=workspace, filters=filters)
    stored = snapshot.data.get("drill", {}).get(key)
    page = DrillPage() if stored is None else _page_of(stored)
    return selectors.drill_of_page(workspace=workspace, key=key, page=page, rows=rows)
