"""Daily conversation rollups: the figures of every whole past day (workspace time zone) per
filter value, kept incrementally, so a dashboard over 90 days and its previous period adds a few
hundred rows instead of reading every conversation and message.

- `rollups_refresh` (a periodic job, every few minutes) recomputes the days whose conversations
  changed since its last scan (the conversation's `updated_at`, which a message, an assignment
  or a status change touches, and new handling intervals, with an overlap for transactions that
  were still open) and the days that ended since; then it moves `covered_until` to today,
  and rolls up today so far (the conversations started before the refresh, `partial_until`).
- `selection` adds the rows of the whole covered days for no filter, one filter (channel,
  team, agent, language, value tier) or two of them together ("channel+team" rows keyed
  "email|3"), and counts the rest directly from the facts: what started since the last refresh
  and days not refreshed yet. The rows are computed from the
  same facts (`selectors.conversation_facts`) by the same `Tally.of`, so counts, sums and rates are
  exactly the direct ones; medians are within the histograms' resolution (tally.py,
  docs/metrics.md). What time alone changes (an SLA target running out, the 7-day FCR window
  closing) is kept as pending judgements the reader counts once their moment passed, so a row
  stays right without being recomputed. tests/analytics/test_rollups.py checks all this on
  random data.
- Three filters or more at once are computed directly, from the matching conversations only.

What a rollup does not see until the next full rebuild (`ascolto analytics rollups --full`):
rows changed by bulk updates that do not touch `updated_at`, deleted conversations, and a
customer's value tier changing after the day was rolled up (conversations are grouped by the
customer's tier at the time of the rollup).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from ascolto.analytics.dashboards.conversations import conversation_queryset, filtered_facts
from ascolto.analytics.dashboards.filters import DashboardFilters, Period, period_of
from ascolto.analytics.models import ConversationRollup, ConversationRollupState
from ascolto.analytics.selectors import conversation_facts
from ascolto.analytics.service_metrics import FCR_WINDOW
from ascolto.analytics.tally import COUNTS, FCR, FR, RES, Tally, micros, unpack
from ascolto.core.models import Workspace
from ascolto.inbox.models import Conversation, HandlingInterval

# Rows changed by a transaction that committed after a scan but stamped before it are caught by
# the next scan as long as that transaction took less than this.
OVERLAP = dt.timedelta(minutes=10)
DAYS_PER_BATCH = 7
DIMENSIONS = ("channel", "team", "agent", "language", "tier")
# Two filters together have rows of their own, named "channel+team" and keyed "email|3".
PAIRS = tuple(itertools.combinations(DIMENSIONS, 2))
# Three filters have rows only when none of them is a team or an agent: with one of those the
# direct read is narrowed by the team's or agent's index (inbox.models.Conversation), without
# one it would read every conversation of the channel, language and tier.
TRIPLE = ("channel", "language", "tier")
_ONE = dt.timedelta(days=1)

RowKey = tuple[dt.date, str, str, str]  # day, dimension, key, agent


@dataclass(frozen=True)
class Dims:
    """What a conversation is filtered and broken down by."""

    channel: str
    team: str
    agent: str
    language: str
    tier: str


def _zone(workspace: Workspace) -> ZoneInfo:
    return ZoneInfo(workspace.timezone)


def _local_start(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), zone)


def _started_day(zone: ZoneInfo) -> TruncDate:
    return TruncDate(Coalesce("first_customer_message_at", "created_at"), tzinfo=zone)


# --- writes -------------------------------------------------------------------------------


def rollups_refresh(
    *, workspace: Workspace, now: dt.datetime | None = None, full: bool = False
) -> int:
    """Bring the workspace's conversation rollups up to the start of today (workspace time
    zone). Returns how many days were recomputed. One transaction holding the state row, so
    two refreshes never interleave."""
    moment = now or timezone.now()
    zone = _zone(workspace)
    today = moment.astimezone(zone).date()
    with transaction.atomic():
        state, _ = ConversationRollupState.objects.select_for_update().get_or_create(
            workspace=workspace
        )
        if full or state.covered_until is None or state.scanned_at is None:
            ConversationRollup.objects.filter(workspace=workspace).delete()
            days = _days_with_data(workspace, zone, changed_since=None)
        else:
            days = _days_with_data(workspace, zone, changed_since=state.scanned_at - OVERLAP)
            day = state.covered_until
            while day < today:
                days.add(day)
                day += _ONE
        todo = sorted(d for d in days if d < today)
        for first, last in _runs(todo):
            batch_first = first
            while batch_first <= last:
                batch_last = min(last, batch_first + dt.timedelta(days=DAYS_PER_BATCH - 1))
                _rebuild(workspace, zone, batch_first, batch_last, moment)
                batch_first = batch_last + _ONE
        # Today so far: its rows hold the conversations started before this moment, so a
        # dashboard only counts the last few minutes directly.
        _rebuild(workspace, zone, today, today, moment, until=moment)
        state.covered_until = today
        state.partial_until = moment
        state.scanned_at = moment
        state.save()
    return len(todo)


def _days_with_data(
    workspace: Workspace, zone: ZoneInfo, *, changed_since: dt.datetime | None
) -> set[dt.date]:
    conversations = Conversation.objects.filter(workspace=workspace)
    if changed_since is None:
        changed = conversations
    else:
        changed = conversations.filter(
            Q(updated_at__gte=changed_since)
            | Q(
                pk__in=HandlingInterval.objects.filter(
                    workspace=workspace, updated_at__gte=changed_since
                ).values("conversation_id")
            )
        )
    days = changed.annotate(day=_started_day(zone)).values_list("day", flat=True).distinct()
    found = {d for d in days.order_by() if d is not None}
    if changed_since is not None:
        found |= _recontacted_days(workspace, zone, changed)
    return found


def _recontacted_days(
    workspace: Workspace, zone: ZoneInfo, changed: QuerySet[Conversation]
) -> set[dt.date]:
    """The days of conversations whose first-contact resolution a changed (new) conversation
    may overturn: the same customer's, resolved within FCR_WINDOW before it started."""
    starts: dict[int, list[dt.datetime]] = defaultdict(list)
    for customer_id, first_message, created in changed.values_list(
        "customer_id", "first_customer_message_at", "created_at"
    ):
        starts[customer_id].append(first_message or created)
    if not starts:
        return set()
    earliest = min(min(v) for v in starts.values()) - FCR_WINDOW
    days: set[dt.date] = set()
    customers = sorted(starts)
    for offset in range(0, len(customers), 2000):
        earlier = (
            Conversation.objects.filter(
                workspace=workspace,
                customer_id__in=customers[offset : offset + 2000],
                resolved_at__gte=earliest,
            )
            .annotate(day=_started_day(zone))
            .values_list("customer_id", "resolved_at", "day")
        )
        for customer_id, resolved_at, day in earlier:
            if resolved_at is not None and any(
                resolved_at < s <= resolved_at + FCR_WINDOW for s in starts[customer_id]
            ):
                days.add(day)
    return days


def _rebuild(
    workspace: Workspace,
    zone: ZoneInfo,
    first: dt.date,
    last: dt.date,
    moment: dt.datetime,
    *,
    until: dt.datetime | None = None,
) -> None:
    """Replace the rows of the days [first, last] with fresh tallies of their conversations
    (those started before `until`, when given)."""
    ConversationRollup.objects.filter(workspace=workspace, day__gte=first, day__lte=last).delete()
    start, end = _local_start(first, zone), _local_start(last + _ONE, zone)
    if until is not None:
        end = min(end, until)
    facts = conversation_facts(workspace=workspace, start=start, end=end)
    dims = _dims(workspace, [f.id for f in facts])
    tallies: dict[RowKey, Tally] = defaultdict(Tally)
    for fact in facts:
        one = Tally.of(fact, now=moment, zone=zone)
        day = fact.started_at.astimezone(zone).date()
        for row_key in _row_keys(day, dims[fact.id]):
            tallies[row_key].add(one)
    ConversationRollup.objects.bulk_create(
        (
            ConversationRollup(
                workspace=workspace,
                day=day,
                dimension=dimension,
                key=key,
                agent=agent,
                **tally.row_fields(),
            )
            for (day, dimension, key, agent), tally in tallies.items()
        ),
        batch_size=1000,
    )


def _dims(workspace: Workspace, ids: list[int]) -> dict[int, Dims]:
    out: dict[int, Dims] = {}
    for offset in range(0, len(ids), 5000):
        rows = Conversation.objects.filter(
            workspace=workspace, pk__in=ids[offset : offset + 5000]
        ).values_list("id", "channel", "team_id", "assignee_id", "language", "customer__value_tier")
        for pk, channel, team, agent, language, tier in rows:
            out[pk] = Dims(
                channel=channel,
                team="" if team is None else str(team),
                agent="" if agent is None else str(agent),
                language=language,
                tier=tier or "",
            )
    return out


def _row_keys(day: dt.date, d: Dims) -> list[RowKey]:
    """The rows a conversation counts in: all, each filter value it has, each pair of them,
    and the same per its assignee (except where the agent is one of the filters: that row is
    the agent's already). Empty team, agent or language values are not rows: no filter selects
    them."""
    values = {
        dimension: getattr(d, dimension)
        for dimension in DIMENSIONS
        if getattr(d, dimension) or dimension == "tier"
    }
    filters = [("", "")]
    filters += list(values.items())
    filters += [
        pair_key((a, values[a]), (b, values[b])) for a, b in PAIRS if a in values and b in values
    ]
    if all(dimension in values for dimension in TRIPLE):
        filters.append(triple_key(values))
    keys = [(day, dimension, key, "") for dimension, key in filters]
    if d.agent:
        keys += [(day, dim, key, d.agent) for dim, key in filters if "agent" not in dim.split("+")]
    return keys


def pair_key(first: tuple[str, str], second: tuple[str, str]) -> tuple[str, str]:
    """The (dimension, key) of the rows of two filters, in `DIMENSIONS` order."""
    (a, va), (b, vb) = sorted((first, second), key=lambda item: DIMENSIONS.index(item[0]))
    return f"{a}+{b}", f"{va}|{vb}"


def triple_key(values: dict[str, str]) -> tuple[str, str]:
    """The (dimension, key) of the rows of the three filters of `TRIPLE` (their values by
    dimension), in its order: ("channel+language+tier", "email|he|gold")."""
    return "+".join(TRIPLE), "|".join(values[dimension] for dimension in TRIPLE)


def _runs(days: Iterable[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Consecutive days as (first, last) runs, so each run is one range query."""
    runs: list[tuple[dt.date, dt.date]] = []
    for day in sorted(days):
        if runs and runs[-1][1] + _ONE == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


# --- reads --------------------------------------------------------------------------------


@dataclass
class Selection:
    """The conversation figures of a filter selection: all of it, and per assignee."""

    total: Tally = field(default_factory=Tally)
    agents: dict[int, Tally] = field(default_factory=dict)
    rolled_days: int = 0
    with_messages: bool = True

    def values(self, *, now: dt.datetime) -> dict[str, float | None]:
        return self.total.values(now=now, with_messages=self.with_messages)

    def agent_values(self, *, now: dt.datetime) -> dict[int, dict[str, float | None]]:
        return {
            agent: tally.values(now=now, with_messages=self.with_messages)
            for agent, tally in self.agents.items()
            if tally.conversations
        }

    def agent(self, agent_id: int) -> Tally:
        return self.agents.setdefault(agent_id, Tally())


def filter_key(filters: DashboardFilters) -> tuple[str, str] | None:
    """The (dimension, key) of the rollup rows of the filters: ("", "") without a filter,
    ("channel", "email") for one, ("channel+team", "email|3") for two, None for three or more
    ("channel+language+tier", "email|he|gold") for those three, None for any other three or
    more (the dashboards then compute directly)."""
    chosen = [
        (name, value)
        for name, value in (
            ("channel", filters.channel),
            ("team", "" if filters.team_id is None else str(filters.team_id)),
            ("agent", "" if filters.agent_id is None else str(filters.agent_id)),
            ("language", filters.language),
            ("tier", filters.tier_value or ""),
        )
        if value or (name == "tier" and filters.tier)
    ]
    if len(chosen) == 3 and {name for name, _ in chosen} == set(TRIPLE):
        return triple_key(dict(chosen))
    if len(chosen) > 2:
        return None
    if len(chosen) == 2:
        return pair_key(chosen[0], chosen[1])
    return chosen[0] if chosen else ("", "")


def selection(
    *,
    workspace: Workspace,
    filters: DashboardFilters,
    now: dt.datetime,
    per_agent: bool = False,
    with_messages: bool = True,
    charts: bool = False,
) -> Selection | None:
    """The figures of the selection from the rollups plus direct counts of the days they do
    not cover (today, days not refreshed yet), read `with_messages` or not (without: no next
    response time nor automation rate, and a much cheaper read of today). None when the
    rollups cannot answer (three filters or more, never refreshed). Per-agent tallies hold only
    what the team view shows; volume by channel and the heatmap are read with `charts`. The
    rows' pending judgements are counted as of `now`: read the figures at that moment."""
    wanted = filter_key(filters)
    if wanted is None:
        return None
    state = ConversationRollupState.objects.filter(workspace=workspace).first()
    if state is None or state.covered_until is None:
        return None
    covered: dt.date = state.covered_until
    partial_until = state.partial_until
    period = filters.period
    zone = _zone(workspace)
    out = Selection(with_messages=with_messages)
    # Rows exist for the whole days before `covered` and, up to `partial_until`, for that day.
    partial = covered if partial_until is not None else None
    rows_last = min(period.last_day, covered if partial else covered - _ONE)
    rolled: set[dt.date] = set()
    if period.first_day <= rows_last:
        rolled = {
            period.first_day + dt.timedelta(days=n)
            for n in range((rows_last - period.first_day).days + 1)
        }
        _add_rows(
            out,
            workspace=workspace,
            wanted=wanted,
            first=period.first_day,
            last=rows_last,
            now=now,
            per_agent=per_agent,
            charts=charts,
        )
    out.rolled_days = len(rolled)
    missing = [
        day
        for day in (period.first_day + dt.timedelta(days=n) for n in range(period.days))
        if day not in rolled
    ]
    for first, last in _runs(missing):
        _add_direct(out, workspace, filters, period_of(first, last, zone), now, per_agent=per_agent)
    if partial in rolled and partial_until is not None:
        rest = period_of(partial, partial, zone)
        rest = Period(start=partial_until, end=rest.end, first_day=partial, last_day=partial)
        _add_direct(out, workspace, filters, rest, now, per_agent=per_agent)
    if per_agent and filters.agent_id is not None:
        # Agent rows are not broken down per agent again: the selection is that one agent.
        out.agents = {filters.agent_id: out.total} if out.total.conversations else {}
    return out


def _add_rows(
    out: Selection,
    *,
    workspace: Workspace,
    wanted: tuple[str, str],
    first: dt.date,
    last: dt.date,
    now: dt.datetime,
    per_agent: bool,
    charts: bool,
) -> None:
    """Add the rollup rows of the days [first, last] of the (dimension, key) to the selection,
    summed in the database: counts per day (the overview's series), per agent summed by agent,
    histograms and chart counters merged per bucket, pending judgements counted at `now`. Only
    what the page shows is read (`with_messages`, `charts`, `per_agent`)."""
    dimension, key = wanted
    rows = ConversationRollup.objects.filter(
        workspace=workspace, dimension=dimension, key=key, day__gte=first, day__lte=last
    )
    histograms = ("frt", "resolution", *(("nrt",) if out.with_messages else ()))
    total = Tally()
    blobs: dict[str, list[bytes | memoryview]] = {name: [] for name in histograms}
    for day, handle_seconds, *rest in (
        rows.filter(agent="").values_list("day", "handle_seconds", *histograms, *COUNTS).order_by()
    ):
        for name, blob in zip(histograms, rest, strict=False):
            blobs[name].append(blob)
        counts = rest[len(histograms) :]
        for name, value in zip(COUNTS, counts, strict=True):
            setattr(total, name, getattr(total, name) + value)
        total.handle_seconds += handle_seconds
        if counts[0]:
            total.days[day] += counts[0]
    for name in histograms:
        setattr(total, name, unpack(blobs[name]))
    agents: dict[str, Tally] = {}
    if per_agent:
        sums = {name: Sum(name) for name in (*COUNTS, "handle_seconds")}
        names = ("agent", *sums)
        for agent, *values in (
            rows.exclude(agent="").values("agent").annotate(**sums).values_list(*names).order_by()
        ):
            agents[agent] = Tally(**dict(zip(sums, values, strict=True)))
        agent_blobs: dict[str, list[bytes | memoryview]] = defaultdict(list)
        for agent, blob in rows.exclude(agent="").values_list("agent", "frt").order_by():
            agent_blobs[agent].append(blob)
        for agent, tally in agents.items():
            tally.frt = unpack(agent_blobs[agent])
    where = (workspace.pk, dimension, key, first, last)
    if charts:
        for column, bucket_key, count in _merged_counts(("channels", "heat"), where):
            counter: Counter[str] = getattr(total, column)
            counter[bucket_key] += int(count)
    judged = {FR: ("sla_fr_judged", "sla_fr_met"), RES: ("sla_res_judged", "sla_res_met")}
    judged[FCR] = ("fcr_judged", "fcr_first")
    for kind, ok, count in _pending_due(where, micros(now)):
        judged_name, met_name = judged[int(kind)]
        setattr(total, judged_name, getattr(total, judged_name) + int(count))
        setattr(total, met_name, getattr(total, met_name) + int(count) * int(ok))
    out.total.add(total)
    for agent, tally in agents.items():
        out.agent(int(agent)).add(tally)


_WHERE = "r.workspace_id = %s AND r.dimension = %s AND r.key = %s AND r.day >= %s AND r.day <= %s"


def _merged_counts(columns: tuple[str, ...], where: tuple[Any, ...]) -> list[tuple[str, str, Any]]:
    """(column, key, summed count) of the JSON counters (channels, heat) of the rows of all
    agents together, expanded and summed by the database."""
    table = ConversationRollup._meta.db_table
    postgres = connection.vendor == "postgresql"
    parts: list[str] = []
    params: list[Any] = []
    for column in columns:
        each = f"LATERAL jsonb_each_text(r.{column})" if postgres else f"json_each(r.{column})"
        parts.append(
            f"SELECT '{column}', h.key, SUM(CAST(h.value AS bigint)) "  # noqa: S608
            f"FROM {table} AS r CROSS JOIN {each} AS h "
            f"WHERE {_WHERE} AND r.agent = '' GROUP BY 1, h.key"
        )
        params.extend(where)
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        return list(cursor.fetchall())


def _pending_due(where: tuple[Any, ...], moment: int) -> list[tuple[Any, Any, Any]]:
    """(kind, met, count) of the rows' pending judgements whose moment has come by `moment`
    (micros): counted by the database instead of decoding the lists."""
    table = ConversationRollup._meta.db_table
    if connection.vendor == "postgresql":
        item = "CAST(p.value ->> {} AS bigint)"
        each = "CROSS JOIN LATERAL jsonb_array_elements(r.pending) AS p(value)"
    else:
        item, each = "json_extract(p.value, '$[{}]')", "CROSS JOIN json_each(r.pending) AS p"
    at, kind, ok = (item.format(n) for n in range(3))
    sql = (
        f"SELECT {kind}, {ok}, COUNT(*) FROM {table} AS r {each} "  # noqa: S608
        f"WHERE {_WHERE} AND r.agent = '' AND {at} <= %s GROUP BY {kind}, {ok}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*where, moment])
        return list(cursor.fetchall())


def _add_direct(
    out: Selection,
    workspace: Workspace,
    filters: DashboardFilters,
    period: Period,
    now: dt.datetime,
    *,
    per_agent: bool,
) -> None:
    part = replace(filters, period=period)
    # The days counted directly are recent ones (today, days not refreshed yet): the index on
    # the last message time keeps that read small however many conversations there are.
    facts = filtered_facts(
        workspace=workspace,
        filters=part,
        touched_since=period.start,
        with_messages=out.with_messages,
    )
    if not facts:
        return
    assignee_of: dict[int, int | None] = {}
    if per_agent:
        assignee_of = dict(
            conversation_queryset(workspace=workspace, filters=part)
            .filter(last_message_at__gte=period.start)
            .values_list("id", "assignee_id")
        )
    zone = _zone(workspace)
    for fact in facts:
        one = Tally.of(fact, now=now, zone=zone)
        out.total.add(one)
        agent_id = assignee_of.get(fact.id)
        if agent_id is not None:
            out.agent(agent_id).add(one)
