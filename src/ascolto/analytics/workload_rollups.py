"""Daily rows of the agents' online and busy time and of the assistant's figures, kept
incrementally like the conversation rollups (analytics/rollups.py), so the team view's occupancy
and the operations view's assistant figures add up a few days' rows instead of sweeping every
span, session and offer of the period.

- `AgentDay`: per agent and whole past day (workspace time zone), the online time and the
  handle time inside it, computed by `occupancy.online_and_busy_seconds` over that day. Both
  add up exactly over days (a span crossing midnight is cut at the day's edge), so the sum
  over days is the figure of the period. Days before today.
- `AssistantDay`: per settled day, the counts of `assistant.selectors.assistant_counts_by_day`
  (the same definitions as `assistant_metrics` and `deflection_report`). An offer's outcome
  can change for 24 hours (pending, followed by a conversation), so a day gets its row once
  it ended 24 hours ago.

`workload_refresh` (the periodic rollup job, every few minutes) recomputes the days whose spans,
sessions or offers changed since its last scan (their `updated_at`, with the conversation
rollups' overlap) and the days that ended or settled since. `agent_times` and
`assistant_figures` read the rows of the whole covered days of a period and compute the rest
(today, the unsettled days, a day not rolled up yet) directly. tests/analytics/
test_workload_rollups.py checks on random data that the results equal the direct ones.

Not seen until the next full rebuild (`ascolto analytics rollups --full`): rows changed by bulk
updates that do not touch `updated_at`, deleted spans, sessions or offers, and a change of the
workspace's time zone (the rows' days are the old zone's).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Max, Min, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from ascolto.analytics import occupancy as occ
from ascolto.analytics.models import AgentDay, AssistantDay, WorkloadRollupState
from ascolto.analytics.rollups import OVERLAP
from ascolto.assistant import selectors as assistant_selectors
from ascolto.assistant.models import BotSession, DeflectionOffer
from ascolto.core.models import Workspace
from ascolto.inbox.models import AvailabilitySpan, HandlingInterval

_ONE = dt.timedelta(days=1)
# An offer's outcome is final this long after it was made (assistant.selectors).
SETTLED_AFTER = assistant_selectors.ASSUMED_WINDOW


def _zone(workspace: Workspace) -> ZoneInfo:
    return ZoneInfo(workspace.timezone)


def _start(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), zone)


def _days(first: dt.date, last: dt.date) -> Iterable[dt.date]:
    """first..last inclusive."""
    day = first
    while day <= last:
        yield day
        day += _ONE


def _settled_until(moment: dt.datetime, zone: ZoneInfo) -> dt.date:
    """The first day whose offers may still change outcome: every day before it ended at
    least `SETTLED_AFTER` before `moment`."""
    day = moment.astimezone(zone).date()
    while _start(day, zone) + SETTLED_AFTER > moment:
        day -= _ONE
    return day


# --- writes -------------------------------------------------------------------------------


def workload_refresh(
    *, workspace: Workspace, now: dt.datetime | None = None, full: bool = False
) -> int:
    """Bring the workspace's agent-day rows up to yesterday and its assistant-day rows up to
    the last settled day (workspace time zone). Returns how many days were recomputed. One
    transaction holding the state row, so two refreshes never interleave."""
    moment = now or timezone.now()
    zone = _zone(workspace)
    today = moment.astimezone(zone).date()
    settled = _settled_until(moment, zone)
    with transaction.atomic():
        state, _ = WorkloadRollupState.objects.select_for_update().get_or_create(
            workspace=workspace
        )
        if (
            full
            or state.scanned_at is None
            or state.agent_covered_until is None
            or state.assistant_covered_until is None
        ):
            AgentDay.objects.filter(workspace=workspace).delete()
            AssistantDay.objects.filter(workspace=workspace).delete()
            agent_days = _agent_days_changed(workspace, zone, moment, since=None)
            assistant_days = _assistant_days_changed(workspace, zone, since=None)
        else:
            since = state.scanned_at - OVERLAP
            agent_days = _agent_days_changed(workspace, zone, moment, since=since)
            agent_days.update(_days(state.agent_covered_until, today - _ONE))
            assistant_days = _assistant_days_changed(workspace, zone, since=since)
            assistant_days.update(_days(state.assistant_covered_until, settled - _ONE))
        agent_todo = sorted(d for d in agent_days if d < today)
        assistant_todo = sorted(d for d in assistant_days if d < settled)
        for day in agent_todo:
            _agent_day_rebuild(workspace, zone, day, moment)
        for first, last in _runs(assistant_todo):
            _assistant_days_rebuild(workspace, zone, first, last, moment)
        state.agent_covered_until = today
        state.assistant_covered_until = settled
        state.scanned_at = moment
        state.save()
    return len(set(agent_todo) | set(assistant_todo))


def _local_days(
    spans: Iterable[tuple[dt.datetime, dt.datetime | None]], zone: ZoneInfo, moment: dt.datetime
) -> set[dt.date]:
    """The days (zone) the spans touch; an open span runs to `moment`."""
    days: set[dt.date] = set()
    for started, ended in spans:
        end = ended if ended is not None else moment
        days.update(_days(started.astimezone(zone).date(), end.astimezone(zone).date()))
    return days


def _agent_days_changed(
    workspace: Workspace, zone: ZoneInfo, moment: dt.datetime, *, since: dt.datetime | None
) -> set[dt.date]:
    """The days touched by availability and handling spans changed since `since` (None: every
    span; then the days between the first span and now, so whole days count too)."""
    availability = AvailabilitySpan.objects.filter(workspace=workspace)
    handling = HandlingInterval.objects.filter(workspace=workspace)
    if since is None:
        first = availability.aggregate(first=Min("started_at"))["first"]
        if first is None:
            return set()
        return set(_days(first.astimezone(zone).date(), moment.astimezone(zone).date()))
    days = _local_days(
        availability.filter(updated_at__gte=since).values_list("started_at", "ended_at"),
        zone,
        moment,
    )
    days |= _local_days(
        handling.filter(updated_at__gte=since).values_list("started_at", "ended_at"), zone, moment
    )
    return days


def _assistant_days_changed(
    workspace: Workspace, zone: ZoneInfo, *, since: dt.datetime | None
) -> set[dt.date]:
    """The creation days of the offers and of the bot sessions' conversations changed since
    `since` (None: every day from the first to the last of them)."""
    sessions = BotSession.objects.filter(workspace=workspace)
    offers = DeflectionOffer.objects.filter(workspace=workspace)
    if since is None:
        bounds = [
            *sessions.aggregate(
                first=Min("conversation__created_at"), last=Max("conversation__created_at")
            ).values(),
            *offers.aggregate(first=Min("created_at"), last=Max("created_at")).values(),
        ]
        known = [moment for moment in bounds if moment is not None]
        if not known:
            return set()
        return set(_days(min(known).astimezone(zone).date(), max(known).astimezone(zone).date()))
    days = set(
        sessions.filter(updated_at__gte=since)
        .annotate(day=TruncDate("conversation__created_at", tzinfo=zone))
        .values_list("day", flat=True)
        .distinct()
    )
    days.update(
        offers.filter(updated_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values_list("day", flat=True)
        .distinct()
    )
    return days


def _runs(days: Sequence[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Consecutive days as (first, last) runs."""
    runs: list[tuple[dt.date, dt.date]] = []
    for day in days:
        if runs and runs[-1][1] + _ONE == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _agent_day_rebuild(
    workspace: Workspace, zone: ZoneInfo, day: dt.date, moment: dt.datetime
) -> None:
    times = occ.online_and_busy_seconds(
        workspace=workspace, start=_start(day, zone), end=_start(day + _ONE, zone), now=moment
    )
    AgentDay.objects.filter(workspace=workspace, day=day).delete()
    AgentDay.objects.bulk_create(
        AgentDay(
            workspace=workspace,
            day=day,
            agent_id=agent_id,
            online_seconds=t.online_seconds,
            busy_seconds=t.busy_seconds,
        )
        for agent_id, t in times.items()
    )


def _assistant_days_rebuild(
    workspace: Workspace, zone: ZoneInfo, first: dt.date, last: dt.date, moment: dt.datetime
) -> None:
    counts = assistant_selectors.assistant_counts_by_day(
        workspace=workspace,
        start=_start(first, zone),
        end=_start(last + _ONE, zone),
        now=moment,
        zone=zone,
    )
    AssistantDay.objects.filter(workspace=workspace, day__gte=first, day__lte=last).delete()
    AssistantDay.objects.bulk_create(
        AssistantDay(
            workspace=workspace,
            day=day,
            bot_conversations=c["bot_conversations"],
            bot_confirmed=c["bot_confirmed"],
            offers=c["offers"],
            deflection_confirmed=c["confirmed"],
            deflection_assumed=c["assumed"],
            deflection_followed=c["followed_by_conversation"],
        )
        for day, c in sorted(counts.items())
    )


# --- reads --------------------------------------------------------------------------------


def _split(
    start: dt.datetime, end: dt.datetime, covered_until: dt.date | None, zone: ZoneInfo
) -> tuple[tuple[dt.date, dt.date] | None, list[tuple[dt.datetime, dt.datetime]]]:
    """[start, end) as the whole days before `covered_until` inside it (first, last-exclusive)
    and the parts outside them, to compute directly."""
    if covered_until is None:
        return None, [(start, end)]
    first = start.astimezone(zone).date()
    if _start(first, zone) < start:
        first += _ONE
    stop = min(end.astimezone(zone).date(), covered_until)
    if stop <= first:
        return None, [(start, end)]
    rest = [(start, _start(first, zone)), (_start(stop, zone), end)]
    return (first, stop), [(s, e) for s, e in rest if e > s]


def agent_times(
    *,
    workspace: Workspace,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    agent_ids: Sequence[int] | None = None,
) -> dict[int, occ.AgentTime]:
    """What `occupancy.online_and_busy_seconds` returns for [start, end), from the agent-day
    rows of the whole days they cover and directly for the rest."""
    if agent_ids is not None and not agent_ids:
        return {}
    zone = _zone(workspace)
    covered = (
        WorkloadRollupState.objects.filter(workspace=workspace)
        .values_list("agent_covered_until", flat=True)
        .first()
    )
    days, rest = _split(start, end, covered, zone)
    online: defaultdict[int, float] = defaultdict(float)
    busy: defaultdict[int, float] = defaultdict(float)
    if days is not None:
        rows = AgentDay.objects.filter(workspace=workspace, day__gte=days[0], day__lt=days[1])
        if agent_ids is not None:
            rows = rows.filter(agent_id__in=agent_ids)
        for agent_id, on, by in (
            rows.values_list("agent_id")
            .annotate(on=Sum("online_seconds"), by=Sum("busy_seconds"))
            .order_by()
        ):
            online[agent_id] += on
            busy[agent_id] += by
    for part_start, part_end in rest:
        for agent_id, t in occ.online_and_busy_seconds(
            workspace=workspace, start=part_start, end=part_end, now=now, agent_ids=agent_ids
        ).items():
            online[agent_id] += t.online_seconds
            busy[agent_id] += t.busy_seconds
    return {
        agent_id: occ.AgentTime(round(seconds, 3), round(busy[agent_id], 3))
        for agent_id, seconds in online.items()
        if seconds > 0
    }


ASSISTANT_FIGURES = ("confirmed_resolutions", "deflection_confirmed", "deflection_assumed")


def assistant_figures(
    *, workspace: Workspace, start: dt.datetime, end: dt.datetime, now: dt.datetime
) -> dict[str, int]:
    """The operations view's assistant figures for [start, end): `assistant_metrics`'
    confirmed resolutions and `deflection_report`'s confirmed and assumed deflection, from the
    assistant-day rows of the whole settled days and directly for the rest."""
    zone = _zone(workspace)
    covered = (
        WorkloadRollupState.objects.filter(workspace=workspace)
        .values_list("assistant_covered_until", flat=True)
        .first()
    )
    days, rest = _split(start, end, covered, zone)
    totals: Counter[str] = Counter()
    if days is not None:
        summed = AssistantDay.objects.filter(
            workspace=workspace, day__gte=days[0], day__lt=days[1]
        ).aggregate(
            confirmed_resolutions=Sum("bot_confirmed"),
            deflection_confirmed=Sum("deflection_confirmed"),
            deflection_assumed=Sum("deflection_assumed"),
        )
        totals.update({k: v or 0 for k, v in summed.items()})
    for part_start, part_end in rest:
        counts: Counter[str] = Counter()
        for day_counts in assistant_selectors.assistant_counts_by_day(
            workspace=workspace, start=part_start, end=part_end, now=now, zone=zone
        ).values():
            counts.update(day_counts)
        totals["confirmed_resolutions"] += counts["bot_confirmed"]
        totals["deflection_confirmed"] += counts["confirmed"]
        totals["deflection_assumed"] += counts["assumed"]
    return {key: totals[key] for key in ASSISTANT_FIGURES}
