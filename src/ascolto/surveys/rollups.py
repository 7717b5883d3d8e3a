"""Daily survey rollups: the counts of every whole past UTC day per survey and breakdown value,
kept incrementally, so NPS / CSAT / CES over a year add up a few thousand rows.

- `rollups_refresh` (a periodic job, every few minutes) recomputes the days whose responses,
  website intercept answers or invitations changed since its last scan (rows' `updated_at`,
  with an overlap for transactions that were still open), plus the days that ended since, and
  moves `covered_until` to today.
- `plan` splits a period into the whole days the rollups cover and the edges (the partial first
  and last days, today) that are counted directly; `counts` adds the rollup rows up. Selectors
  add the two, so the figures equal the direct computation once the changed days are refreshed
  (tests/surveys/test_rollups.py checks this on random data).

What a rollup does not see until the next full rebuild (`ascolto surveys rollups --full`):
rows changed by bulk updates that do not touch `updated_at`, deleted rows, and a customer's tier
changing after the day was rolled up (invitations are grouped by the customer's current tier).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from ascolto.core.models import Workspace
from ascolto.surveys import aggregates as agg
from ascolto.surveys.models import DailyRollup, InterceptAnswer, Invitation, Response, RollupState

UTC = dt.UTC
# Rows changed by a transaction that committed after a scan but stamped before it are caught by
# the next scan as long as that transaction took less than this.
OVERLAP = dt.timedelta(minutes=10)
DAYS_PER_BATCH = 31
DIMENSIONS = ("", "channel", "team", "agent", "segment", "language", "touchpoint")
# The dashboards' filters that combine with each other and with the channel: rows per channel
# of each value of one or two of them (dimension "team+language/channel", key "3|it"), so a
# selection of up to three filters (the channel and two of these) and its NPS by channel add up
# rollup rows. The agent is left out: its rows would number as many as its responses, and one
# agent's responses are few enough to count directly (response_agent_idx).
COMBINED = ("team", "segment", "language")
CHANNEL_COMBOS = tuple(c for n in (1, 2) for c in itertools.combinations(COMBINED, n))
RowIdent = tuple[dt.date, int, str, str, str]


def combo_dimension(names: Iterable[str]) -> str:
    """The dimension of the per-channel rows of `names` (in `COMBINED` order)."""
    return "+".join(sorted(names, key=COMBINED.index)) + "/channel"


def combo_key(values: Iterable[Any]) -> str:
    return "|".join(agg.group_key(v) for v in values)


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=UTC)


def _sent_invitations(workspace: Workspace) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        workspace=workspace,
        sent_at__isnull=False,
        status__in=[Invitation.Status.SENT, Invitation.Status.BOUNCED],
    )


# --- writes -------------------------------------------------------------------------------


def rollups_refresh(
    *, workspace: Workspace, now: dt.datetime | None = None, full: bool = False
) -> int:
    """Bring the workspace's rollups up to the start of today (UTC). Returns how many days were
    recomputed. One transaction, holding the state row, so two refreshes never interleave."""
    moment = now or timezone.now()
    today = moment.astimezone(UTC).date()
    with transaction.atomic():
        state, _ = RollupState.objects.select_for_update().get_or_create(workspace=workspace)
        if full or state.covered_until is None or state.scanned_at is None:
            DailyRollup.objects.filter(workspace=workspace).delete()
            days = _days_with_data(workspace, changed_since=None)
        else:
            days = _days_with_data(workspace, changed_since=state.scanned_at - OVERLAP)
            day = state.covered_until
            while day < today:
                days.add(day)
                day += dt.timedelta(days=1)
        todo = sorted(d for d in days if d < today)
        for start in range(0, len(todo), DAYS_PER_BATCH):
            _rebuild(workspace, todo[start : start + DAYS_PER_BATCH])
        state.covered_until = today
        state.scanned_at = moment
        state.save()
    return len(todo)


def _days_with_data(workspace: Workspace, *, changed_since: dt.datetime | None) -> set[dt.date]:
    responses = Response.objects.filter(workspace=workspace)
    intercepts = InterceptAnswer.objects.filter(workspace=workspace)
    invitations = _sent_invitations(workspace)
    if changed_since is not None:
        responses = responses.filter(updated_at__gte=changed_since)
        intercepts = intercepts.filter(updated_at__gte=changed_since)
        invitations = invitations.filter(updated_at__gte=changed_since)
    days: set[dt.date | None] = set()
    for answers in (responses, intercepts):
        days |= set(
            answers.annotate(day=TruncDate("created_at", tzinfo=UTC))
            .values_list("day", flat=True)
            .distinct()
            .order_by()
        )
    days |= set(
        invitations.annotate(day=TruncDate("sent_at", tzinfo=UTC))
        .values_list("day", flat=True)
        .distinct()
        .order_by()
    )
    return {d for d in days if d is not None}


def _rebuild(workspace: Workspace, days: list[dt.date]) -> None:
    """Replace the rollup rows of `days` with fresh GROUP BY counts."""
    DailyRollup.objects.filter(workspace=workspace, day__in=days).delete()
    rows: dict[RowIdent, DailyRollup] = {}
    for first, last in _runs(days):
        since, until = _day_start(first), _day_start(last + dt.timedelta(days=1))
        responses = Response.objects.filter(
            workspace=workspace, created_at__gte=since, created_at__lt=until
        ).annotate(day=TruncDate("created_at", tzinfo=UTC))
        invitations = (
            _sent_invitations(workspace)
            .filter(sent_at__gte=since, sent_at__lt=until)
            .annotate(day=TruncDate("sent_at", tzinfo=UTC))
        )
        intercepts = InterceptAnswer.objects.filter(
            workspace=workspace, created_at__gte=since, created_at__lt=until
        ).annotate(day=TruncDate("created_at", tzinfo=UTC))
        for dimension in DIMENSIONS:
            response_group: dict[str, Any] = {}
            invitation_group: dict[str, Any] = {}
            if dimension:
                response_group["group"] = F(agg.RESPONSE_GROUP_FIELD[dimension])
                invitation_group["group"] = agg.invitation_group(dimension)
            for r in _dicts(
                responses.values("day", "survey_id", **response_group)
                .annotate(
                    **agg.response_counts(),
                    **agg.response_counts(completed_only=True, prefix="done_"),
                )
                .order_by()
            ):
                row = _row(rows, workspace, r, dimension)
                for name in agg.RESPONSE_COUNTS:
                    setattr(row, name, int(r[name] or 0))
                    setattr(row, f"done_{name}", int(r[f"done_{name}"] or 0))
            for r in _dicts(
                invitations.values("day", "survey_id", **invitation_group)
                .annotate(**agg.funnel_counts())
                .order_by()
            ):
                _set_funnel(_row(rows, workspace, r, dimension), r)
            # Website answers are complete: they count in the totals and in `done_*` alike.
            for r in agg.intercept_counts(intercepts, dimension or None, "day", "survey_id"):
                row = _row(rows, workspace, r, dimension)
                for name in agg.RESPONSE_COUNTS:
                    value = int(r[name] or 0)
                    setattr(row, name, getattr(row, name) + value)
                    setattr(row, f"done_{name}", getattr(row, f"done_{name}") + value)
        for names in CHANNEL_COMBOS:
            _rebuild_combo(rows, workspace, names, responses, invitations, intercepts)
    DailyRollup.objects.bulk_create(rows.values(), batch_size=1000)


def _rebuild_combo(
    rows: dict[RowIdent, DailyRollup],
    workspace: Workspace,
    names: tuple[str, ...],
    responses: QuerySet[Any],
    invitations: QuerySet[Any],
    intercepts: QuerySet[Any],
) -> None:
    """The per-channel rows of the breakdowns `names` over the days of the querysets."""
    dimension = combo_dimension(names)
    fields = [f"g{n}" for n in range(len(names))]

    def ident(r: dict[str, Any], channel: Any) -> RowIdent:
        key = combo_key(r.get(f) for f in fields)
        return (r["day"], r["survey_id"], dimension, key, agg.group_key(channel))

    pairs = list(zip(fields, names, strict=True))
    response_groups = {f: F(agg.RESPONSE_GROUP_FIELD[n]) for f, n in pairs}
    for r in _dicts(
        responses.values("day", "survey_id", "channel", **response_groups)
        .annotate(
            **agg.response_counts(),
            **agg.response_counts(completed_only=True, prefix="done_"),
        )
        .order_by()
    ):
        row = _combo_row(rows, workspace, ident(r, r["channel"]))
        for name in agg.RESPONSE_COUNTS:
            setattr(row, name, int(r[name] or 0))
            setattr(row, f"done_{name}", int(r[f"done_{name}"] or 0))
    invitation_groups = {f: agg.invitation_group(n) for f, n in pairs}
    for r in _dicts(
        invitations.values("day", "survey_id", ch=agg.invitation_channel(), **invitation_groups)
        .annotate(**agg.funnel_counts())
        .order_by()
    ):
        _set_funnel(_combo_row(rows, workspace, ident(r, r["ch"])), r)
    intercept_groups = {
        f: F(agg.INTERCEPT_GROUP_FIELD[n]) for f, n in pairs if n in agg.INTERCEPT_GROUP_FIELD
    }
    for r in _dicts(
        intercepts.values("day", "survey_id", **intercept_groups)
        .annotate(**agg.response_counts())
        .order_by()
    ):
        if not r["responses"]:
            continue
        row = _combo_row(rows, workspace, ident(r, agg.WEBSITE_CHANNEL))
        for name in agg.RESPONSE_COUNTS:
            value = int(r[name] or 0)
            setattr(row, name, getattr(row, name) + value)
            setattr(row, f"done_{name}", getattr(row, f"done_{name}") + value)


def _combo_row(
    rows: dict[RowIdent, DailyRollup], workspace: Workspace, ident: RowIdent
) -> DailyRollup:
    row = rows.get(ident)
    if row is None:
        day, survey_id, dimension, key, channel = ident
        row = rows[ident] = DailyRollup(
            workspace=workspace,
            day=day,
            survey_id=survey_id,
            dimension=dimension,
            key=key,
            channel=channel,
        )
    return row


def _set_funnel(row: DailyRollup, r: dict[str, Any]) -> None:
    row.sent, row.opened = int(r["sent"] or 0), int(r["opened"] or 0)
    row.answered = int(r["answered"] or 0)


def _row(
    rows: dict[RowIdent, DailyRollup],
    workspace: Workspace,
    r: dict[str, Any],
    dimension: str,
) -> DailyRollup:
    key = agg.group_key(r.get("group")) if dimension else ""
    return _combo_row(rows, workspace, (r["day"], r["survey_id"], dimension, key, ""))


def _dicts(rows: Iterable[Any]) -> list[dict[str, Any]]:
    return [dict(r) for r in rows]


def _runs(days: Iterable[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Consecutive days as (first, last) runs, so each run is one range query."""
    runs: list[tuple[dt.date, dt.date]] = []
    for day in sorted(days):
        if runs and runs[-1][1] + dt.timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


# --- reads --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """Whole days [first_day, end_day) come from rollups; `edges` are (since, until) ranges,
    None meaning open, counted directly."""

    first_day: dt.date
    end_day: dt.date
    edges: list[tuple[dt.datetime | None, dt.datetime | None]]


def plan(
    *,
    workspace: Workspace,
    since: dt.datetime | None,
    until: dt.datetime | None,
    customer_id: int | None = None,
) -> Plan | None:
    """How to count [since, until): None when rollups cannot help (nothing rolled up yet, a
    single customer, or no whole rolled-up day inside the period)."""
    if customer_id is not None:
        return None
    covered = (
        RollupState.objects.filter(workspace=workspace)
        .values_list("covered_until", flat=True)
        .first()
    )
    if covered is None:
        return None
    if since is None:
        first_day = dt.date.min
    else:
        start = since.astimezone(UTC)
        first_day = start.date() if start == _day_start(start.date()) else start.date() + _ONE
    end_day = covered if until is None else min(covered, until.astimezone(UTC).date())
    if first_day >= end_day:
        return None
    edges: list[tuple[dt.datetime | None, dt.datetime | None]] = []
    if since is not None and since < _day_start(first_day):
        edges.append((since, _day_start(first_day)))
    end_start = _day_start(end_day)
    if until is None or until > end_start:
        edges.append((end_start, until))
    return Plan(first_day=first_day, end_day=end_day, edges=edges)


_ONE = dt.timedelta(days=1)


def counts(
    *,
    workspace: Workspace,
    first_day: dt.date,
    end_day: dt.date,
    by: str | None,
    survey_id: int | None,
    completed: bool | None,
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """Response counts and invitation counts per group key ("" without a breakdown) over the
    rolled-up days, in the shape the direct queries return. Groups whose counts are all zero
    are left out, as a GROUP BY over no rows would."""
    qs = DailyRollup.objects.filter(
        workspace=workspace,
        dimension="" if by in (None, "survey") else by,
        day__gte=first_day,
        day__lt=end_day,
    )
    if survey_id is not None:
        qs = qs.filter(survey_id=survey_id)
    sums: dict[str, Any] = {}
    for name in agg.RESPONSE_COUNTS:
        if completed is None:
            sums[name] = Sum(name)
        elif completed:
            sums[name] = Sum(f"done_{name}")
        else:
            sums[name] = Sum(F(name) - F(f"done_{name}"))
    sums.update({name: Sum(name) for name in agg.RATE_COUNTS})
    if by is None:
        grouped = [{"group": "", **qs.aggregate(**sums)}]
    else:
        field = "survey_id" if by == "survey" else "key"
        grouped = _dicts(qs.values(group=F(field)).annotate(**sums).order_by())
    rows: dict[str, dict[str, int]] = {}
    rates: dict[str, dict[str, int]] = {}
    for g in grouped:
        key = agg.group_key(g["group"])
        response_part = {name: int(g[name] or 0) for name in agg.RESPONSE_COUNTS}
        rate_part = {name: int(g[name] or 0) for name in agg.RATE_COUNTS}
        if response_part["responses"]:
            rows[key] = response_part
        if rate_part["sent"]:
            rates[key] = rate_part
    return rows, rates


def selection_counts(
    *,
    workspace: Workspace,
    first_day: dt.date,
    end_day: dt.date,
    dimension: str,
    key: str | None,
    channel: str | None,
    group: str,
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """Response counts and funnel counts (sent, opened, answered) of the rows of `dimension`
    over the rolled-up days, of one `key` and one `channel` when given (None: all), per
    `group` ("key", "channel", or "" for one total keyed ""). Groups of nothing are left out."""
    qs = DailyRollup.objects.filter(
        workspace=workspace, dimension=dimension, day__gte=first_day, day__lt=end_day
    )
    if key is not None:
        qs = qs.filter(key=key)
    if channel is not None:
        qs = qs.filter(channel=channel)
    names = (*agg.RESPONSE_COUNTS, *agg.FUNNEL_COUNTS)
    sums: dict[str, Any] = {name: Sum(name) for name in names}
    if group:
        grouped = _dicts(qs.values(group=F(group)).annotate(**sums).order_by())
    else:
        grouped = [{"group": "", **qs.aggregate(**sums)}]
    rows: dict[str, dict[str, int]] = {}
    funnel: dict[str, dict[str, int]] = {}
    for g in grouped:
        found = agg.group_key(g["group"])
        response_part = {name: int(g[name] or 0) for name in agg.RESPONSE_COUNTS}
        funnel_part = {name: int(g[name] or 0) for name in agg.FUNNEL_COUNTS}
        if response_part["responses"]:
            rows[found] = response_part
        if funnel_part["sent"]:
            funnel[found] = funnel_part
    return rows, funnel
