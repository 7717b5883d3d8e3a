"""The additive form of the conversation metrics: what a rollup row keeps, and how rows add up.

A `Tally` holds counts and sums that add exactly (conversations, resolved, SLA met / judged,
first-contact resolutions judged, handle seconds ...) and, for the medians, which are not
additive, fixed histograms of the durations. `values` turns a tally into the same figures as
`dashboards.metrics.conversation_values` computes from the facts (docs/metrics.md, "Rollups").

Median resolution: durations below a minute fall in whole-second buckets, longer ones in
buckets 2 % wide (each bucket's upper bound is 1.02 times its lower bound). A median read from a
histogram is the middle of the bucket(s) of the middle value(s), so it is within
`median_tolerance(exact)` = 0.5 s + 1 % of the exact median.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from ascolto.analytics import service_metrics as m

EXACT_BELOW = 60
STEP = 1.02
_LOG_STEP = math.log(STEP)
ACTIVE = ("open", "pending", "snoozed")


def bucket(seconds: float) -> int:
    """The histogram bucket of a duration (never negative: durations are clamped at 0)."""
    if seconds < EXACT_BELOW:
        return max(0, int(seconds))
    return EXACT_BELOW + int(math.log(seconds / EXACT_BELOW) / _LOG_STEP)


def bucket_value(index: int) -> float:
    """The middle of a bucket: what a median falling in it reads as."""
    if index < EXACT_BELOW:
        return index + 0.5
    low = EXACT_BELOW * STEP ** (index - EXACT_BELOW)
    return low * (1 + STEP) / 2


def median_tolerance(exact: float) -> float:
    """How far a median read from the histograms may be from the exact one."""
    return 0.5 + 0.01 * abs(exact)


def histogram_median(hist: Mapping[int, int]) -> float | None:
    """The median of the durations a histogram counts, read as in `summarize` (the mean of the
    two middle values for an even count), each value taken at its bucket's middle."""
    total = sum(hist.values())
    if total <= 0:
        return None
    wanted = [(total - 1) // 2, total // 2]
    found: list[float] = []
    seen = 0
    for index in sorted(hist):
        seen += hist[index]
        while wanted and wanted[0] < seen:
            wanted.pop(0)
            found.append(bucket_value(index))
        if not wanted:
            break
    return sum(found) / len(found)


# A stored histogram: (bucket, count) pairs, little-endian, 6 bytes each, so the histograms of
# many rows are merged by joining their bytes and counting once (`unpack`), without decoding
# each row.
PACKED = np.dtype([("bucket", "<u2"), ("count", "<u4")])


def pack(hist: Mapping[int, int]) -> bytes:
    """A histogram as stored in a rollup row."""
    pairs = np.array(sorted((k, v) for k, v in hist.items() if v), dtype=PACKED)
    return pairs.tobytes()


def unpack(blobs: Iterable[bytes | memoryview]) -> Counter[int]:
    """The sum of stored histograms."""
    data = b"".join(blobs)
    if not data:
        return Counter()
    pairs = np.frombuffer(data, dtype=PACKED)
    sums = np.bincount(pairs["bucket"], weights=pairs["count"])
    found = np.flatnonzero(sums)
    return Counter(dict(zip(found.tolist(), sums[found].astype(np.int64).tolist(), strict=True)))


COUNTS = (
    "conversations",
    "resolved",
    "backlog",
    "ever_resolved",
    "reopened",
    "transfers",
    "handled",
    "sla_fr_judged",
    "sla_fr_met",
    "sla_res_judged",
    "sla_res_met",
    "fcr_judged",
    "fcr_first",
    "auto_resolved",
    "bot_resolved",
)
HISTOGRAMS = ("frt", "nrt", "resolution")


def _pct(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MICROSECOND = dt.timedelta(microseconds=1)
# What a pending judgement adds to when its moment has come.
FR, RES, FCR = 0, 1, 2


def micros(moment: dt.datetime) -> int:
    """An instant as whole microseconds since the epoch (exact, unlike a float timestamp)."""
    return (moment - EPOCH) // MICROSECOND


@dataclass
class Tally:
    conversations: int = 0
    resolved: int = 0
    backlog: int = 0
    ever_resolved: int = 0
    reopened: int = 0
    transfers: int = 0
    handled: int = 0
    handle_seconds: float = 0.0
    sla_fr_judged: int = 0
    sla_fr_met: int = 0
    sla_res_judged: int = 0
    sla_res_met: int = 0
    fcr_judged: int = 0
    fcr_first: int = 0
    auto_resolved: int = 0
    bot_resolved: int = 0
    frt: Counter[int] = field(default_factory=Counter)
    nrt: Counter[int] = field(default_factory=Counter)
    resolution: Counter[int] = field(default_factory=Counter)
    channels: Counter[str] = field(default_factory=Counter)
    heat: Counter[str] = field(default_factory=Counter)  # "weekday:hour" -> conversations
    days: Counter[dt.date] = field(default_factory=Counter)  # local start day -> conversations
    # Judgements that fall due later than the tally was made: (moment in micros, FR | RES |
    # FCR, 1 if it counts as met / first-contact). An unanswered SLA target is missed when its
    # due time passes; a resolution is judged for FCR 7 days after it.
    pending: list[tuple[int, int, int]] = field(default_factory=list)

    # --- building --------------------------------------------------------------------------

    @classmethod
    def of(cls, c: m.ConversationFacts, *, now: dt.datetime, zone: ZoneInfo) -> Tally:
        """One conversation's contribution, judged at `now` (as `conversation_values` does);
        what time alone will change later is kept in `pending`."""
        t = cls(conversations=1)
        resolution = m.resolution_time(c)
        if resolution is not None:
            t.resolved = 1
            t.resolution[bucket(resolution)] += 1
        t.backlog = int(c.status in ACTIVE)
        if c.resolved_at is not None or c.reopen_count > 0:
            t.ever_resolved = 1
            t.reopened = int(c.reopen_count > 0)
        t.transfers = c.transfer_count
        if c.handling:
            t.handled = 1
            t.handle_seconds = m.handle_time(c)
        frt = m.first_response_time(c)
        if frt is not None:
            t.frt[bucket(frt)] += 1
        for nrt in m.next_response_times(c):
            t.nrt[bucket(nrt)] += 1
        if c.first_response_due_at is not None:
            due, done = c.first_response_due_at, c.first_response_at
            if done is not None or due <= now:
                t.sla_fr_judged = 1
                t.sla_fr_met = int(done is not None and done <= due)
            else:
                t.pending.append((micros(due), FR, 0))
        if c.resolution_due_at is not None:
            due, done = c.resolution_due_at, c.resolved_at
            if done is not None or due <= now:
                t.sla_res_judged = 1
                t.sla_res_met = int(done is not None and done <= due)
            else:
                t.pending.append((micros(due), RES, 0))
        if c.resolved_at is not None and c.status in ("resolved", "closed"):
            judged_from = c.resolved_at + m.FCR_WINDOW
            first_contact = int(c.reopen_count == 0 and not c.recontacted)
            if now >= judged_from:
                t.fcr_judged = 1
                t.fcr_first = first_contact
            else:
                t.pending.append((micros(judged_from), FCR, first_contact))
        if c.resolved_at is not None:
            t.auto_resolved = 1
            t.bot_resolved = int(c.bot_resolved)
        t.channels[c.channel] += 1
        local = c.started_at.astimezone(zone)
        t.heat[f"{local.weekday()}:{local.hour}"] += 1
        t.days[local.date()] += 1
        return t

    def add(self, other: Tally) -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.handle_seconds += other.handle_seconds
        for name in (*HISTOGRAMS, "channels", "heat", "days"):
            getattr(self, name).update(getattr(other, name))
        self.pending.extend(other.pending)

    # --- storing ---------------------------------------------------------------------------

    def row_fields(self) -> dict[str, Any]:
        """The rollup row's columns (the day is the row's own, so `days` is not stored)."""
        fields: dict[str, Any] = {name: getattr(self, name) for name in COUNTS}
        fields["handle_seconds"] = self.handle_seconds
        for name in HISTOGRAMS:
            fields[name] = pack(getattr(self, name))
        fields["channels"] = dict(self.channels)
        fields["heat"] = dict(self.heat)
        fields["pending"] = [list(p) for p in self.pending]
        return fields

    # --- reading ---------------------------------------------------------------------------

    def values(self, *, now: dt.datetime, with_messages: bool = True) -> dict[str, float | None]:
        """The conversation figures of the catalogue at `now`, as `conversation_values` keys
        them; without messages (the tally was partly made without them) next response time
        and automation rate are None, as there."""
        moment = micros(now)
        judged = [0, 0, 0]
        met = [0, 0, 0]
        for at, kind, ok in self.pending:
            if at <= moment:
                judged[kind] += 1
                met[kind] += ok
        return {
            "conversations": float(self.conversations),
            "resolved": float(self.resolved),
            "backlog": float(self.backlog),
            "frt_median": histogram_median(self.frt),
            "nrt_median": histogram_median(self.nrt) if with_messages else None,
            "resolution_median": histogram_median(self.resolution),
            "aht_mean": self.handle_seconds / self.handled if self.handled else None,
            "reopen_rate": _pct(self.reopened, self.ever_resolved),
            "fcr_rate": _pct(self.fcr_first + met[FCR], self.fcr_judged + judged[FCR]),
            "transfers": self.transfers / self.conversations if self.conversations else None,
            "sla_first_response": _pct(self.sla_fr_met + met[FR], self.sla_fr_judged + judged[FR]),
            "sla_resolution": _pct(self.sla_res_met + met[RES], self.sla_res_judged + judged[RES]),
            "automation_rate": (
                _pct(self.bot_resolved, self.auto_resolved) if with_messages else None
            ),
        }

    def heatmap(self) -> dict[tuple[int, int], int]:
        """Conversations started per (weekday 0=Monday, hour), as `volume_heatmap` returns."""
        out: dict[tuple[int, int], int] = {}
        for cell, count in self.heat.items():
            weekday, hour = cell.split(":")
            if count:
                out[(int(weekday), int(hour))] = count
        return out
