"""Agent occupancy and workload: the definitions (docs/metrics.md, "Service metrics") and the
database reads that compute them for a team at once.

- **Online time**: the time in the period an agent's availability was *online*, from the
  availability spans (`inbox.AvailabilitySpan`); a span still open counts up to now. *Away* is
  not available time: an away agent gets no new conversations, so it counts in neither the
  online time nor the handle time of occupancy. Availability is what the agent set (a closed
  console tab does not make them offline).
- **Occupancy** = handle time inside online time / online time (the call-centre definition).
  Handle time is the union of the agent's handling spans (focus and compose spans of every
  conversation, `inbox.HandlingInterval`): two conversations in front of the agent at once
  count once, so occupancy is at most 100 %. Handling outside online time (away, offline, or
  outside the period) is left out. No online time: None, not 0.
- **Workload**: the open, pending and snoozed conversations assigned to the agent now, against
  their capacity (`AgentProfile.capacity`, the rule routing applies: the channel's own limit,
  else `"*"`; without a channel, `"*"`; no limit: None); and the conversations assigned to the
  agent among those started in the period (the team view's "Conversations" column).

The pure functions take spans as (start, end) pairs of aware datetimes; durations are seconds.
`online_and_busy_seconds` computes the same figures in one SQL statement (a sweep over the span
edges with window functions), so the team view reads one row per agent.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection

from ascolto.core.models import Workspace

Span = tuple[dt.datetime, dt.datetime]


def merge(spans: Iterable[Span]) -> list[Span]:
    """The union of the spans as disjoint spans in time order (empty spans dropped)."""
    merged: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def clip(spans: Iterable[Span], start: dt.datetime, end: dt.datetime) -> list[Span]:
    """The parts of the spans inside [start, end)."""
    return [(max(s, start), min(e, end)) for s, e in spans if s < end and e > start]


def seconds(spans: Iterable[Span]) -> float:
    return sum((e - s).total_seconds() for s, e in merge(spans))


def intersect(a: Iterable[Span], b: Iterable[Span]) -> list[Span]:
    """The time covered by both sets of spans."""
    left, right = merge(a), merge(b)
    out: list[Span] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i][0], right[j][0])
        end = min(left[i][1], right[j][1])
        if start < end:
            out.append((start, end))
        if left[i][1] <= right[j][1]:
            i += 1
        else:
            j += 1
    return out


def online_seconds(online: Iterable[Span], *, start: dt.datetime, end: dt.datetime) -> float:
    """Online time in [start, end). Clip an open span at now before calling."""
    return seconds(clip(online, start, end))


def occupancy(
    *,
    online: Sequence[Span],
    handling: Sequence[Span],
    start: dt.datetime,
    end: dt.datetime,
) -> float | None:
    """Share (0-1) of the agent's online time in [start, end) during which they handled at
    least one conversation; None without online time."""
    available = merge(clip(online, start, end))
    total = seconds(available)
    if total <= 0:
        return None
    return seconds(intersect(handling, available)) / total


def capacity_limit(capacity: object, channel: str = "") -> int | None:
    """The open conversations an agent takes on `channel` (routing's rule: the channel's own
    value, else "*"); without a channel, the "*" value. None: no limit."""
    raw = capacity if isinstance(capacity, dict) else {}
    value = raw.get(channel, raw.get("*")) if channel else raw.get("*")
    if value is None:
        return None
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def load(open_now: int, limit: int | None) -> float | None:
    """Open conversations as a share of capacity (above 1 when over); None without a limit
    or with a limit of 0."""
    return open_now / limit if limit else None


# --- In the database --------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentTime:
    online_seconds: float
    busy_seconds: float  # handle time inside online time

    @property
    def occupancy(self) -> float | None:
        return self.busy_seconds / self.online_seconds if self.online_seconds > 0 else None


# A sweep over each agent's span edges in time order: running counts of the online spans and
# of the handling spans open at each edge; between two edges the agent is online when the first
# is positive and busy when both are. Unions and intersections come out of the counts, so no
# span is joined to another (a join of handling to online spans grew with their product).
_SQL = """
WITH online AS (
    SELECT agent_id, s, e FROM (
        SELECT agent_id,
               {greatest}({epoch_started}, :start) AS s,
               {least}(COALESCE({epoch_ended}, :now), :end) AS e
        FROM inbox_availabilityspan
        WHERE workspace_id = :workspace AND status = 'online'
          AND started_at < :end_at AND (ended_at IS NULL OR ended_at > :start_at)
          {agent_condition}
    ) clipped
    WHERE e > s
),
handling AS (
    SELECT agent_id,
           {greatest}({epoch_started}, :start) AS s,
           {least}({epoch_ended}, :end) AS e
    FROM inbox_handlinginterval
    WHERE workspace_id = :workspace
      AND agent_id IN (SELECT agent_id FROM online)
      AND started_at >= :earliest AND started_at < :end_at AND ended_at > :start_at
),
edges AS (
    SELECT agent_id, s AS t, 1 AS da, 0 AS db FROM online
    UNION ALL SELECT agent_id, e, -1, 0 FROM online
    UNION ALL SELECT agent_id, s, 0, 1 FROM handling
    UNION ALL SELECT agent_id, e, 0, -1 FROM handling
),
swept AS (
    SELECT agent_id, t,
           LEAD(t) OVER (PARTITION BY agent_id ORDER BY t, da, db) AS next_t,
           SUM(da) OVER (PARTITION BY agent_id ORDER BY t, da, db
                         ROWS UNBOUNDED PRECEDING) AS a,
           SUM(db) OVER (PARTITION BY agent_id ORDER BY t, da, db
                         ROWS UNBOUNDED PRECEDING) AS b
    FROM edges
)
SELECT agent_id,
       SUM(CASE WHEN a > 0 THEN next_t - t ELSE 0 END),
       SUM(CASE WHEN a > 0 AND b > 0 THEN next_t - t ELSE 0 END)
FROM swept
WHERE next_t IS NOT NULL
GROUP BY agent_id
HAVING SUM(CASE WHEN a > 0 THEN next_t - t ELSE 0 END) > 0
"""

# Handling spans longer than this are discarded when recorded (inbox.services.handling_record),
# so a span overlapping the period started at most this long before it.
LONGEST_HANDLING = dt.timedelta(hours=4)


def _named(sql: str, values: dict[str, Any]) -> tuple[str, list[Any]]:
    """`:name` placeholders to the driver's positional ones, in order of appearance."""
    params: list[Any] = []

    def one(match: re.Match[str]) -> str:
        params.append(values[match.group(1)])
        return "%s"

    return re.sub(r":([a-z_0-9]+)\b", one, sql), params


def online_and_busy_seconds(
    *,
    workspace: Workspace,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    agent_ids: Sequence[int] | None = None,
) -> dict[int, AgentTime]:
    """Per agent with online time in [start, end) (open spans up to `now`): online time and
    handle time inside it, as `occupancy` defines them. One query."""
    if connection.vendor == "postgresql":
        functions = {
            "greatest": "GREATEST",
            "least": "LEAST",
            "epoch_started": "date_part('epoch', started_at)",
            "epoch_ended": "date_part('epoch', ended_at)",
        }
    else:
        functions = {
            "greatest": "MAX",
            "least": "MIN",
            "epoch_started": "((julianday(started_at) - 2440587.5) * 86400.0)",
            "epoch_ended": "((julianday(ended_at) - 2440587.5) * 86400.0)",
        }
    values: dict[str, Any] = {
        "workspace": workspace.pk,
        "start": start.timestamp(),
        "end": end.timestamp(),
        "now": now.timestamp(),
        "start_at": connection.ops.adapt_datetimefield_value(start),
        "end_at": connection.ops.adapt_datetimefield_value(end),
        "earliest": connection.ops.adapt_datetimefield_value(start - LONGEST_HANDLING),
    }
    agent_condition = ""
    if agent_ids is not None:
        if not agent_ids:
            return {}
        names = [f"agent_{i}" for i in range(len(agent_ids))]
        values.update(zip(names, (int(a) for a in agent_ids), strict=True))
        agent_condition = "AND agent_id IN (" + ", ".join(f":{n}" for n in names) + ")"
    sql, params = _named(_SQL.format(agent_condition=agent_condition, **functions), values)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # Rounded to the millisecond: SQLite's julianday() leaves float noise (3599.99999 s).
    return {
        int(agent_id): AgentTime(round(float(online), 3), max(0.0, round(float(busy), 3)))
        for agent_id, online, busy in rows
    }
