"""Service metric definitions: one module, the same words as docs/metrics.md.

The maths is pure (plain dataclasses in, numbers out) so it can be tested against hand-computed
cases and reused by rollups; `conversation_facts` reads what it needs from the inbox tables.

Durations are seconds. A `BusinessClock` turns two instants into business seconds (a team's
calendar); without one, durations are calendar time.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

BusinessClock = Callable[[dt.datetime, dt.datetime], float]
FCR_WINDOW = dt.timedelta(days=7)


def calendar_seconds(start: dt.datetime, end: dt.datetime) -> float:
    return max(0.0, (end - start).total_seconds())


@dataclass(frozen=True)
class MessageFact:
    at: dt.datetime
    kind: str  # inbound | outbound | bot | note | system


@dataclass
class ConversationFacts:
    id: int
    customer_id: int
    channel: str
    created_at: dt.datetime
    status: str
    first_customer_message_at: dt.datetime | None = None
    first_response_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    reopen_count: int = 0
    transfer_count: int = 0
    first_response_due_at: dt.datetime | None = None
    resolution_due_at: dt.datetime | None = None
    messages: list[MessageFact] = field(default_factory=list)
    # The answered waits after the first one, (wait start, agent reply), when the database
    # found them from the messages (`selectors.conversation_facts`) instead of `messages`
    # being read: `next_response_times` then measures these.
    answered_waits: list[tuple[dt.datetime, dt.datetime]] | None = None
    handling: list[tuple[int, dt.datetime, dt.datetime]] = field(default_factory=list)
    bot_resolved: bool = False
    # The customer started another conversation within FCR_WINDOW after `resolved_at`.
    recontacted: bool = False

    @property
    def started_at(self) -> dt.datetime:
        return self.first_customer_message_at or self.created_at


# --- Per conversation -------------------------------------------------------------------------


def first_response_time(
    c: ConversationFacts, clock: BusinessClock = calendar_seconds
) -> float | None:
    """From the customer's first message to the first agent reply (not a bot answer, not a
    note). None until answered, or when the customer never wrote (proactive conversations).
    A reopen does not reset it."""
    if c.first_customer_message_at is None or c.first_response_at is None:
        return None
    return clock(c.first_customer_message_at, c.first_response_at)


def next_response_times(
    c: ConversationFacts, clock: BusinessClock = calendar_seconds
) -> list[float]:
    """After the first response: for each customer message that starts a wait (the first
    inbound after an agent reply), the time to the next agent reply. Waits still open are not
    counted.

    Facts whose `answered_waits` were found by the database are measured from those: the same
    waits (tests/analytics/test_message_summaries.py checks it on random threads)."""
    if c.answered_waits is not None:
        return [clock(start, end) for start, end in c.answered_waits]
    times: list[float] = []
    answered_once = False
    waiting_since: dt.datetime | None = None
    for m in sorted(c.messages, key=lambda m: m.at):
        if m.kind == "inbound" and waiting_since is None:
            waiting_since = m.at
        elif m.kind == "outbound" and waiting_since is not None:
            if answered_once:
                times.append(clock(waiting_since, m.at))
            answered_once = True
            waiting_since = None
    return times


def resolution_time(c: ConversationFacts, clock: BusinessClock = calendar_seconds) -> float | None:
    """From the start (first customer message, else creation) to the latest resolution. None
    while unresolved; a reopened conversation counts to its final resolution."""
    if c.resolved_at is None or c.status not in ("resolved", "closed"):
        return None
    return clock(c.started_at, c.resolved_at)


def handle_time(c: ConversationFacts) -> float:
    """Active agent time: the union of each agent's handling spans (overlaps of one agent are
    counted once; two agents at once count twice — both were working)."""
    total = 0.0
    by_agent: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    for agent, start, end in c.handling:
        by_agent.setdefault(agent, []).append((start, end))
    for spans in by_agent.values():
        spans.sort()
        cur_start, cur_end = spans[0]
        for start, end in spans[1:]:
            if start <= cur_end:
                cur_end = max(cur_end, end)
            else:
                total += (cur_end - cur_start).total_seconds()
                cur_start, cur_end = start, end
        total += (cur_end - cur_start).total_seconds()
    return total


# --- Over a set of conversations --------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    count: int
    mean: float | None
    median: float | None
    p90: float | None


def summarize(values: Iterable[float | None]) -> Summary:
    clean = sorted(v for v in values if v is not None)
    if not clean:
        return Summary(0, None, None, None)
    p90_index = max(0, round(0.9 * len(clean) + 0.5) - 1)
    return Summary(
        count=len(clean),
        mean=statistics.fmean(clean),
        median=statistics.median(clean),
        p90=clean[min(p90_index, len(clean) - 1)],
    )


def first_contact_resolution_rate(
    conversations: Sequence[ConversationFacts],
    all_conversations: Sequence[ConversationFacts] | None = None,
    *,
    now: dt.datetime,
) -> float | None:
    """Share of resolved conversations that were resolved in one conversation: never reopened,
    and the customer did not open another conversation within 7 days of the resolution.
    Conversations resolved less than 7 days before `now` are not judged yet (left out).

    The other conversations are `all_conversations` when given; otherwise each fact's
    `recontacted` (set by `selectors.conversation_facts` from all the customer's conversations,
    whatever the period or filters)."""
    starts_by_customer: dict[int, list[dt.datetime]] = {}
    for other in all_conversations or []:
        starts_by_customer.setdefault(other.customer_id, []).append(other.started_at)
    judged = 0
    first_contact = 0
    for c in conversations:
        if c.resolved_at is None or c.status not in ("resolved", "closed"):
            continue
        if now - c.resolved_at < FCR_WINDOW:
            continue
        judged += 1
        if all_conversations is None:
            recontact = c.recontacted
        else:
            recontact = any(
                c.resolved_at < start <= c.resolved_at + FCR_WINDOW
                for start in starts_by_customer.get(c.customer_id, [])
            )
        if c.reopen_count == 0 and not recontact:
            first_contact += 1
    return first_contact / judged if judged else None


def reopen_rate(conversations: Sequence[ConversationFacts]) -> float | None:
    """Share of conversations ever resolved that were reopened at least once."""
    resolved = [c for c in conversations if c.resolved_at is not None or c.reopen_count > 0]
    if not resolved:
        return None
    return sum(1 for c in resolved if c.reopen_count > 0) / len(resolved)


def transfers_per_conversation(conversations: Sequence[ConversationFacts]) -> float | None:
    if not conversations:
        return None
    return sum(c.transfer_count for c in conversations) / len(conversations)


def sla_compliance(
    conversations: Sequence[ConversationFacts], *, now: dt.datetime
) -> dict[str, float | None]:
    """Share of conversations with a target whose target was met. An unanswered conversation
    counts as missed once its due time has passed, and is not judged before."""

    def rate(pairs: list[tuple[dt.datetime | None, dt.datetime]]) -> float | None:
        judged = [(done, due) for done, due in pairs if done is not None or due <= now]
        if not judged:
            return None
        return sum(1 for done, due in judged if done is not None and done <= due) / len(judged)

    first = [
        (c.first_response_at, c.first_response_due_at)
        for c in conversations
        if c.first_response_due_at is not None
    ]
    resolution = [
        (c.resolved_at, c.resolution_due_at)
        for c in conversations
        if c.resolution_due_at is not None
    ]
    return {"first_response": rate(first), "resolution": rate(resolution)}


def backlog(conversations: Sequence[ConversationFacts], *, now: dt.datetime) -> Summary:
    """Active (open, pending, snoozed) conversations and their age in seconds."""
    active = [c for c in conversations if c.status in ("open", "pending", "snoozed")]
    return summarize((now - c.started_at).total_seconds() for c in active)


def volume_heatmap(
    conversations: Sequence[ConversationFacts], *, tz: str
) -> dict[tuple[int, int], int]:
    """Conversations started per (weekday 0=Monday, hour) in the workspace's time zone."""
    zone = ZoneInfo(tz)
    counts: Counter[tuple[int, int]] = Counter()
    for c in conversations:
        local = c.started_at.astimezone(zone)
        counts[(local.weekday(), local.hour)] += 1
    return dict(counts)


def volume_by_channel(conversations: Sequence[ConversationFacts]) -> dict[str, int]:
    return dict(Counter(c.channel for c in conversations))


def automation_rate(conversations: Sequence[ConversationFacts]) -> float | None:
    """Share of conversations resolved by the assistant with no agent reply."""
    resolved = [c for c in conversations if c.resolved_at is not None]
    if not resolved:
        return None
    return sum(1 for c in resolved if c.bot_resolved) / len(resolved)
