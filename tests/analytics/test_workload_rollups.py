"""Agent-day and assistant-day rows (analytics.workload_rollups): whatever the spans, sessions,
offers, time zone and period, the figures read from the rows equal the direct definitions
(analytics.occupancy.online_and_busy_seconds, assistant.selectors.assistant_metrics and
deflection_report), also after an incremental refresh."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from ascolto.analytics import occupancy as occ
from ascolto.analytics import tasks, workload_rollups
from ascolto.analytics.dashboards.filters import period_of
from ascolto.analytics.models import AgentDay, AssistantDay
from ascolto.assistant import selectors as assistant_selectors
from ascolto.assistant.models import BotSession, DeflectionOffer
from ascolto.inbox.models import AvailabilitySpan, Conversation, HandlingInterval
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory

ZONES = ["UTC", "Europe/Rome", "Asia/Jerusalem", "America/Los_Angeles"]
DAYS = 9


def _agent(workspace: Any) -> Any:
    user = UserFactory(password=None)
    MembershipFactory(workspace=workspace, user=user)
    return user


def _conversation(workspace: Any, inbox: Any, customer: Any, created: dt.datetime) -> Conversation:
    conversation = Conversation.objects.create(
        workspace=workspace, inbox=inbox, channel=inbox.channel, customer=customer
    )
    Conversation.objects.filter(pk=conversation.pk).update(created_at=created)
    return conversation


def _minute(now: dt.datetime, rng: random.Random, back_days: float = DAYS) -> dt.datetime:
    """A random whole second in the `back_days` days before now."""
    return now - dt.timedelta(seconds=rng.randrange(1, int(back_days * 86400)))


def _spans(workspace: Any, agent: Any, conversation: Any, rng: random.Random, now: Any) -> None:
    """Availability spans following each other (online, away; some crossing midnight; the
    last one maybe still open) and handling spans of at most 4 hours, some outside online
    time."""
    moment = now - dt.timedelta(days=DAYS, seconds=rng.randrange(0, 86400))
    while moment < now:
        end: dt.datetime | None = moment + dt.timedelta(seconds=rng.randrange(600, 20 * 3600))
        assert end is not None
        if end >= now:
            end = None
        AvailabilitySpan.objects.create(
            workspace=workspace,
            agent=agent,
            status=rng.choice(["online", "online", "away"]),
            started_at=moment,
            ended_at=end,
        )
        if end is None:
            break
        moment = end + dt.timedelta(seconds=rng.choice([0, 0, rng.randrange(1, 8 * 3600)]))
    for _ in range(rng.randrange(5, 25)):
        start = _minute(now, rng)
        end = min(now, start + dt.timedelta(seconds=rng.randrange(1, 4 * 3600)))
        HandlingInterval.objects.create(
            workspace=workspace,
            conversation=conversation,
            agent=agent,
            started_at=start,
            ended_at=end,
        )


def _periods(zone: ZoneInfo, now: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    today = now.astimezone(zone).date()
    periods = [
        (period_of(today - dt.timedelta(days=n), today, zone)) for n in (0, 1, 2, 5, DAYS + 1)
    ]
    periods += [
        period_of(today - dt.timedelta(days=DAYS), today - dt.timedelta(days=1), zone),
        period_of(today - dt.timedelta(days=6), today - dt.timedelta(days=3), zone),
    ]
    odd = (now - dt.timedelta(days=4, hours=5), now - dt.timedelta(hours=7))
    return [(p.start, p.end) for p in periods] + [odd]


def _assert_agent_times_equal_direct(workspace: Any, now: dt.datetime, agent_ids: Any) -> None:
    zone = ZoneInfo(workspace.timezone)
    for start, end in _periods(zone, now):
        for narrowed in (None, agent_ids[:1]):
            direct = occ.online_and_busy_seconds(
                workspace=workspace, start=start, end=end, now=now, agent_ids=narrowed
            )
            rolled = workload_rollups.agent_times(
                workspace=workspace, start=start, end=end, now=now, agent_ids=narrowed
            )
            assert set(rolled) == set(direct), (start, end)
            for agent_id, t in direct.items():
                assert rolled[agent_id].online_seconds == pytest.approx(t.online_seconds, abs=0.01)
                assert rolled[agent_id].busy_seconds == pytest.approx(t.busy_seconds, abs=0.01)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_agent_times_from_the_rows_equal_the_direct_query(workspace, other_workspace, seed):
    rng = random.Random(seed)
    workspace.timezone = ZONES[seed % len(ZONES)]
    workspace.save()
    now = timezone.now()
    inbox = InboxFactory(workspace=workspace)
    conversation = _conversation(workspace, inbox, CustomerFactory(workspace=workspace), now)
    agents = [_agent(workspace) for _ in range(3)]
    for agent in agents:
        _spans(workspace, agent, conversation, rng, now)
    # Another workspace's spans stay out of this one's rows.
    MembershipFactory(workspace=other_workspace, user=agents[0])
    other = _conversation(
        other_workspace,
        InboxFactory(workspace=other_workspace),
        CustomerFactory(workspace=other_workspace),
        now,
    )
    _spans(other_workspace, agents[0], other, rng, now)

    workload_rollups.workload_refresh(workspace=workspace, now=now)

    assert AgentDay.objects.filter(workspace=workspace).exists()
    _assert_agent_times_equal_direct(workspace, now, [a.pk for a in agents])


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_an_incremental_refresh_gives_the_rows_of_a_full_rebuild(workspace, seed):
    rng = random.Random(seed)
    workspace.timezone = ZONES[seed % len(ZONES)]
    workspace.save()
    now = timezone.now()
    inbox = InboxFactory(workspace=workspace)
    conversation = _conversation(workspace, inbox, CustomerFactory(workspace=workspace), now)
    agents = [_agent(workspace) for _ in range(2)]
    for agent in agents:
        _spans(workspace, agent, conversation, rng, now)
    workload_rollups.workload_refresh(workspace=workspace, now=now)
    # What the first refresh saw is old news to the second one.
    hour_ago = now - dt.timedelta(hours=1)
    AvailabilitySpan.objects.filter(workspace=workspace).update(updated_at=hour_ago)
    HandlingInterval.objects.filter(workspace=workspace).update(updated_at=hour_ago)

    # Then: an open span closes, handling recorded late on past days, a span edited days ago.
    later = timezone.now()
    AvailabilitySpan.objects.filter(workspace=workspace, ended_at__isnull=True).update(
        ended_at=later, updated_at=later
    )
    for agent in agents:
        for _ in range(3):
            start = _minute(now, rng)
            HandlingInterval.objects.create(
                workspace=workspace,
                conversation=conversation,
                agent=agent,
                started_at=start,
                ended_at=start + dt.timedelta(minutes=rng.randrange(1, 200)),
            )
    edited = AvailabilitySpan.objects.filter(workspace=workspace).order_by("started_at")[1]
    AvailabilitySpan.objects.filter(pk=edited.pk).update(status="online", updated_at=later)
    workload_rollups.workload_refresh(workspace=workspace, now=later)
    incremental = sorted(
        AgentDay.objects.filter(workspace=workspace).values_list(
            "day", "agent_id", "online_seconds", "busy_seconds"
        )
    )

    workload_rollups.workload_refresh(workspace=workspace, now=later, full=True)
    full = sorted(
        AgentDay.objects.filter(workspace=workspace).values_list(
            "day", "agent_id", "online_seconds", "busy_seconds"
        )
    )

    assert incremental == full
    _assert_agent_times_equal_direct(workspace, later, [a.pk for a in agents])


def test_a_span_crossing_midnight_is_cut_at_the_local_day_edge(workspace):
    workspace.timezone = "Europe/Rome"
    workspace.save()
    zone = ZoneInfo("Europe/Rome")
    agent = _agent(workspace)
    inbox = InboxFactory(workspace=workspace)
    now = timezone.now()
    day = now.astimezone(zone).date() - dt.timedelta(days=3)
    midnight = dt.datetime.combine(day, dt.time(), zone)
    conversation = _conversation(workspace, inbox, CustomerFactory(workspace=workspace), now)
    AvailabilitySpan.objects.create(
        workspace=workspace,
        agent=agent,
        status="online",
        started_at=midnight - dt.timedelta(hours=2),
        ended_at=midnight + dt.timedelta(hours=3),
    )
    HandlingInterval.objects.create(
        workspace=workspace,
        conversation=conversation,
        agent=agent,
        started_at=midnight - dt.timedelta(hours=1),
        ended_at=midnight + dt.timedelta(minutes=30),
    )

    workload_rollups.workload_refresh(workspace=workspace, now=now)

    rows = {
        r.day: (r.online_seconds, r.busy_seconds)
        for r in AgentDay.objects.filter(workspace=workspace, agent=agent)
    }
    assert rows == {
        day - dt.timedelta(days=1): (2 * 3600.0, 3600.0),
        day: (3 * 3600.0, 1800.0),
    }


def _assistant_data(workspace: Any, rng: random.Random, now: dt.datetime) -> None:
    """Bot sessions (some confirmed) on conversations over the last days, and deflection offers
    (anonymous or not, some confirmed, some followed by a conversation within 24 hours)."""
    inbox = InboxFactory(workspace=workspace)
    customers = [CustomerFactory(workspace=workspace) for _ in range(6)]
    for _ in range(rng.randrange(10, 30)):
        conversation = _conversation(workspace, inbox, rng.choice(customers), _minute(now, rng))
        if rng.random() < 0.7:
            BotSession.objects.create(
                workspace=workspace,
                conversation=conversation,
                state=rng.choice(["answered", "resolved", "handed_off"]),
                confirmed=rng.random() < 0.4,
            )
    for _ in range(rng.randrange(10, 40)):
        made = _minute(now, rng)
        offer = DeflectionOffer.objects.create(
            workspace=workspace,
            source=rng.choice(["widget", "email"]),
            customer=rng.choice([None, *customers]),
            language="en",
            confirmed_at=made + dt.timedelta(minutes=5) if rng.random() < 0.25 else None,
        )
        DeflectionOffer.objects.filter(pk=offer.pk).update(created_at=made)


def _assert_assistant_figures_equal_direct(workspace: Any, now: dt.datetime) -> None:
    zone = ZoneInfo(workspace.timezone)
    for start, end in _periods(zone, now):
        bot = assistant_selectors.assistant_metrics(workspace=workspace, start=start, end=end)
        deflection = assistant_selectors.deflection_report(
            workspace=workspace, start=start, end=end, now=now
        )
        assert workload_rollups.assistant_figures(
            workspace=workspace, start=start, end=end, now=now
        ) == {
            "confirmed_resolutions": bot.confirmed,
            "deflection_confirmed": deflection.confirmed,
            "deflection_assumed": deflection.assumed,
        }, (start, end)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_assistant_figures_from_the_rows_equal_the_selectors(workspace, other_workspace, seed):
    rng = random.Random(seed)
    workspace.timezone = ZONES[seed % len(ZONES)]
    workspace.save()
    now = timezone.now()
    _assistant_data(workspace, rng, now)
    _assistant_data(other_workspace, rng, now)

    workload_rollups.workload_refresh(workspace=workspace, now=now)

    assert AssistantDay.objects.filter(workspace=workspace).exists()
    # The last day's offers may still be followed by a conversation: no row yet.
    settled = now.astimezone(ZoneInfo(workspace.timezone)).date() - dt.timedelta(days=1)
    assert not AssistantDay.objects.filter(workspace=workspace, day__gte=settled).exists()
    _assert_assistant_figures_equal_direct(workspace, now)


def test_assistant_rows_follow_a_late_confirmation(workspace):
    rng = random.Random(9)
    now = timezone.now()
    _assistant_data(workspace, rng, now)
    workload_rollups.workload_refresh(workspace=workspace, now=now)
    hour_ago = now - dt.timedelta(hours=1)
    DeflectionOffer.objects.filter(workspace=workspace).update(updated_at=hour_ago)
    BotSession.objects.filter(workspace=workspace).update(updated_at=hour_ago)

    later = timezone.now()
    old = dt.timedelta(days=3)
    DeflectionOffer.objects.filter(
        workspace=workspace, confirmed_at__isnull=True, created_at__lt=now - old
    ).update(confirmed_at=later, updated_at=later)
    BotSession.objects.filter(workspace=workspace, confirmed=False).update(
        confirmed=True, updated_at=later
    )
    workload_rollups.workload_refresh(workspace=workspace, now=later)

    _assert_assistant_figures_equal_direct(workspace, later)


def test_without_rows_the_figures_are_computed_directly(workspace):
    rng = random.Random(4)
    now = timezone.now()
    _assistant_data(workspace, rng, now)
    agent = _agent(workspace)
    conversation = Conversation.objects.filter(workspace=workspace).first()
    _spans(workspace, agent, conversation, rng, now)

    _assert_assistant_figures_equal_direct(workspace, now)
    _assert_agent_times_equal_direct(workspace, now, [agent.pk])


def test_the_periodic_job_refreshes_the_workspaces_with_spans_or_offers(workspace):
    rng = random.Random(2)
    now = timezone.now()
    _assistant_data(workspace, rng, now)

    days = tasks.refresh_workload_rollups.call_local()

    assert days is not None
    assert days > 0
    assert AssistantDay.objects.filter(workspace=workspace).exists()
