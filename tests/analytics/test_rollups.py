"""Conversation rollups give the dashboards the same figures as computing them from every
conversation and message: counts, sums and rates exactly, medians within the histograms'
resolution (analytics/tally.py), for any period, filter and moment, and keep doing so as
conversations change after their first day (refreshed incrementally)."""

from __future__ import annotations

import datetime as dt
import importlib
import random
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ascolto.analytics import rollups
from ascolto.analytics.dashboards import operations, overview, team
from ascolto.analytics.dashboards.filters import TIERS, DashboardFilters, period_of
from ascolto.analytics.dashboards.metrics import metric_values
from ascolto.analytics.models import ConversationRollup, ConversationRollupState
from ascolto.analytics.tally import Tally, bucket, bucket_value, histogram_median, pack, unpack
from ascolto.analytics.tally import median_tolerance as tolerance
from ascolto.inbox.models import Conversation, HandlingInterval, Message
from tests.accounts.factories import MembershipFactory, TeamFactory, UserFactory
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory

ZONE = "Europe/Rome"
NOW = dt.datetime(2026, 3, 10, 15, 20, tzinfo=dt.UTC)  # a fixed moment: any time of day works
DAYS = 14
CHANNELS = ["webchat", "email", "sms"]
LANGUAGES = ["en", "it", ""]
MEDIANS = ("frt_median", "nrt_median", "resolution_median")


def _fill(workspace: Any, seed: int, count: int = 140) -> dict[str, Any]:
    """Random conversations over the DAYS days up to NOW (today included), with random
    answers, resolutions, reopens, transfers, SLA targets (some still running at NOW),
    messages of every kind and handling spans, across channels, teams, agents, languages and
    customers' value tiers."""
    rng = random.Random(seed)
    workspace.timezone = ZONE
    workspace.save()
    teams = [TeamFactory(workspace=workspace) for _ in range(2)]
    agents = [UserFactory() for _ in range(3)]
    for agent in agents:
        MembershipFactory(workspace=workspace, user=agent, role="agent")
    customers = [
        CustomerFactory(workspace=workspace, value_tier=rng.choice(["gold", "silver", ""]))
        for _ in range(12)
    ]
    inboxes = {c: InboxFactory(workspace=workspace, channel=c) for c in CHANNELS}
    start = NOW - dt.timedelta(days=DAYS)
    span = int((NOW - start).total_seconds())

    def later(moment: dt.datetime, most: int) -> dt.datetime:
        return moment + dt.timedelta(
            seconds=rng.choice([rng.randrange(1, 90), rng.randrange(most)])
        )

    for _ in range(count):
        began = start + dt.timedelta(seconds=rng.randrange(span))
        channel = rng.choice(CHANNELS)
        answered = rng.random() < 0.75
        first_response = later(began, 20_000) if answered else None
        resolved = later(began, 300_000) if rng.random() < 0.6 else None
        if resolved is not None and resolved > NOW:
            resolved = None
        if first_response is not None and first_response > NOW:
            first_response = None
        reopens = rng.choice([0, 0, 0, 1, 2])
        status = "resolved" if resolved else rng.choice(["open", "pending", "snoozed", "closed"])
        if resolved and rng.random() < 0.2:
            status = "closed"
        conversation = Conversation.objects.create(
            workspace=workspace,
            inbox=inboxes[channel],
            channel=channel,
            customer=rng.choice(customers),
            status=status,
            language=rng.choice(LANGUAGES),
            assignee=rng.choice([*agents, None]),
            team=rng.choice([*teams, None]),
            first_customer_message_at=None if rng.random() < 0.1 else began,
            first_response_at=first_response,
            resolved_at=resolved,
            reopen_count=reopens,
            transfer_count=rng.choice([0, 0, 1, 3]),
            first_response_due_at=later(began, 40_000) if rng.random() < 0.5 else None,
            resolution_due_at=later(began, 400_000) if rng.random() < 0.5 else None,
        )
        Conversation.objects.filter(pk=conversation.pk).update(created_at=began)
        moment = began
        messages = []
        for _ in range(rng.randrange(0, 7)):
            moment = later(moment, 7_200)
            messages.append(
                Message(
                    workspace=workspace,
                    conversation=conversation,
                    inbox=inboxes[channel],
                    kind=rng.choice(["inbound", "inbound", "outbound", "bot", "note"]),
                    text="m",
                    created_at=moment,
                )
            )
        Message.objects.bulk_create(messages)
        if conversation.assignee_id and rng.random() < 0.6:
            for _ in range(rng.randrange(1, 3)):
                opened = later(began, 9_000)
                HandlingInterval.objects.create(
                    workspace=workspace,
                    conversation=conversation,
                    agent=rng.choice(agents),
                    started_at=opened,
                    ended_at=later(opened, 1_800),
                )
    _age(workspace)
    return {"teams": teams, "agents": agents}


def _age(workspace: Any) -> None:
    """As if written before the last scan: only what changes from now on counts as changed."""
    before = NOW - dt.timedelta(hours=1)
    Conversation.objects.filter(workspace=workspace).update(updated_at=before)
    HandlingInterval.objects.filter(workspace=workspace).update(updated_at=before)


def _filters(workspace: Any, data: dict[str, Any], first: int, length: int, pick: str) -> Any:
    today = NOW.astimezone(ZoneInfo(ZONE)).date()
    first_day = today - dt.timedelta(days=first)
    period = period_of(first_day, first_day + dt.timedelta(days=length), ZoneInfo(ZONE))
    extra: dict[str, Any] = {}
    for part in filter(None, pick.split("+")):  # "channel=email+team=0": two filters together
        kind, _, value = part.partition("=")
        if kind in ("channel", "language", "tier"):
            extra[kind] = value
        elif kind == "team":
            extra["team_id"] = data["teams"][int(value)].pk
        elif kind == "agent":
            extra["agent_id"] = data["agents"][int(value)].pk
    return DashboardFilters(period=period, **extra)


def _direct(workspace: Any, build: Any) -> Any:
    """The same result computed from the facts: the rollup state set aside for the call."""
    state = ConversationRollupState.objects.get(workspace=workspace)
    covered = state.covered_until
    ConversationRollupState.objects.filter(pk=state.pk).update(covered_until=None)
    try:
        return build()
    finally:
        ConversationRollupState.objects.filter(pk=state.pk).update(covered_until=covered)


def assert_same_figures(rolled: dict[str, float | None], direct: dict[str, float | None]) -> None:
    assert rolled.keys() == direct.keys()
    for key, exact in direct.items():
        got = rolled[key]
        if exact is None or got is None:
            assert got is None, key
            assert exact is None, key
        elif key in MEDIANS:
            assert abs(got - exact) <= tolerance(exact), (key, got, exact)
        else:
            assert got == pytest.approx(exact, rel=1e-9, abs=1e-9), key


PICKS = [
    "",
    *(f"channel={c}" for c in CHANNELS),
    "language=en",
    "language=it",
    *(f"tier={t}" for t in TIERS),
    "team=0",
    "team=1",
    "agent=0",
    "agent=2",
    # Two filters have rows of their own, and so do channel + language + tier; any other three
    # (a team or an agent among them: their indexes narrow the read) are computed directly.
    "channel=email+team=0",
    "language=it+tier=gold",
    "agent=1+channel=webchat",
    "team=1+tier=unranked",
    "agent=0+team=0",
    "channel=sms+language=en+tier=silver",
    "channel=email+language=it+tier=gold",
    "channel=email+language=en+team=0",
    "agent=2+language=it+tier=unranked",
]
DIRECT = {"channel=email+language=en+team=0", "agent=2+language=it+tier=unranked"}


@pytest.mark.parametrize("seed", [1, 2])
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first=st.integers(min_value=0, max_value=DAYS + 3),
    length=st.integers(min_value=0, max_value=DAYS + 3),
    pick=st.sampled_from(PICKS),
    later_hours=st.sampled_from([0, 0, 5, 30, 200]),
)
def test_rollup_figures_equal_the_direct_computation(
    workspace, seed, first, length, pick, later_hours
):
    if not ConversationRollupState.objects.filter(workspace=workspace).exists():
        workspace._rollup_data = _fill(workspace, seed)
        rollups.rollups_refresh(workspace=workspace, now=NOW)
    data = workspace._rollup_data
    filters = _filters(workspace, data, first, length, pick)
    # Read later than the refresh: SLA targets and the 7-day FCR window run out meanwhile.
    now = NOW + dt.timedelta(hours=later_hours)

    rolled = metric_values(workspace=workspace, filters=filters, now=now)
    direct = _direct(
        workspace, lambda: metric_values(workspace=workspace, filters=filters, now=now)
    )

    assert_same_figures(rolled, direct)
    assert (rollups.selection(workspace=workspace, filters=filters, now=now) is None) == (
        pick in DIRECT
    )


@pytest.fixture
def rolled_up(workspace):
    data = _fill(workspace, seed=5, count=120)
    days = rollups.rollups_refresh(workspace=workspace, now=NOW)
    return data, days


def _charts(dashboard: Any) -> list[Any]:
    return [(chart.title, chart.rows) for chart in dashboard.charts]


def _figure_values(dashboard: Any) -> dict[str, float | None]:
    return {f.key: f.value for f in dashboard.figures} | {
        f"previous {f.key}": f.previous for f in dashboard.figures
    }


@pytest.mark.parametrize(
    "pick",
    [
        "",
        "channel=email",
        "agent=1",
        "tier=unranked",
        "team=0",
        "channel=email+language=it+tier=gold",
    ],
)
def test_every_dashboard_reads_the_same_from_rollups(workspace, rolled_up, pick):
    data, _ = rolled_up
    filters = _filters(workspace, data, first=DAYS - 2, length=DAYS - 4, pick=pick)

    for module in (overview, operations, team):

        def build(module: Any = module) -> Any:
            return module.build(workspace=workspace, filters=filters, now=NOW)

        rolled, direct = build(), _direct(workspace, build)
        figures, direct_figures = _figure_values(rolled), _figure_values(direct)
        medians = {k for k in figures if k.removeprefix("previous ") in MEDIANS}
        # The direct overview and team view read no messages: their NRT and automation are
        # not shown and left out of the comparison.
        assert_same_figures(
            {k: v for k, v in figures.items() if k not in medians},
            {k: v for k, v in direct_figures.items() if k not in medians},
        )
        for key in medians:
            exact = direct_figures[key]
            assert (figures[key] is None) == (exact is None)
            if exact is not None:
                assert abs((figures[key] or 0) - exact) <= tolerance(exact)
        if module is team:
            # Agent, conversations, resolved: the counts per agent are exact.
            assert [r[:3] for r in rolled.table_rows] == [r[:3] for r in direct.table_rows]
        else:
            assert _charts(rolled) == _charts(direct)


def test_a_refresh_covers_every_past_day_and_today_so_far(workspace, rolled_up):
    _, days = rolled_up
    state = ConversationRollupState.objects.get(workspace=workspace)
    today = NOW.astimezone(ZoneInfo(ZONE)).date()

    assert state.covered_until == today
    assert state.partial_until == NOW  # today's rows hold what started before the refresh
    assert 0 < days <= DAYS
    assert not ConversationRollup.objects.filter(workspace=workspace, day__gt=today).exists()
    nothing = rollups.rollups_refresh(workspace=workspace, now=NOW + dt.timedelta(minutes=5))
    assert nothing == 0


def test_conversations_changed_after_their_day_are_rolled_up_on_the_next_refresh(
    workspace, rolled_up
):
    data, _ = rolled_up
    filters = _filters(workspace, data, first=DAYS, length=DAYS, pick="")
    later = NOW + dt.timedelta(minutes=5)
    before = metric_values(workspace=workspace, filters=filters, now=later)
    # An open conversation of days ago is answered and resolved now, and one is reassigned.
    open_one = (
        Conversation.objects.filter(
            workspace=workspace,
            status="open",
            first_customer_message_at__lt=NOW - dt.timedelta(days=3),
        )
        .order_by("pk")
        .first()
    )
    assert open_one is not None
    open_one.status = "resolved"
    open_one.resolved_at = NOW
    open_one.first_response_at = open_one.first_response_at or NOW
    open_one.save()

    stale = metric_values(workspace=workspace, filters=filters, now=later)
    assert stale["resolved"] == before["resolved"]  # not refreshed yet: the old day is kept
    recomputed = rollups.rollups_refresh(workspace=workspace, now=later)

    assert recomputed >= 1
    after = metric_values(workspace=workspace, filters=filters, now=later)
    assert after["resolved"] == (before["resolved"] or 0) + 1
    assert_same_figures(
        after,
        _direct(workspace, lambda: metric_values(workspace=workspace, filters=filters, now=later)),
    )


def test_figures_that_time_alone_changes_stay_right_without_a_refresh(workspace, rolled_up):
    data, _ = rolled_up
    filters = _filters(workspace, data, first=DAYS, length=DAYS - 1, pick="")
    a_week_later = NOW + dt.timedelta(days=8)

    at_refresh = metric_values(workspace=workspace, filters=filters, now=NOW)
    later = metric_values(workspace=workspace, filters=filters, now=a_week_later)

    # Resolutions of the last week are judged for FCR by now, and open SLA targets ran out.
    assert later["fcr_rate"] != at_refresh["fcr_rate"]
    assert_same_figures(
        later,
        _direct(
            workspace,
            lambda: metric_values(workspace=workspace, filters=filters, now=a_week_later),
        ),
    )


def test_a_customer_coming_back_within_7_days_overturns_an_earlier_first_contact(
    workspace, rolled_up
):
    data, _ = rolled_up
    filters = _filters(workspace, data, first=DAYS, length=DAYS - 1, pick="")
    a_week_later = NOW + dt.timedelta(days=8)
    loyal = CustomerFactory(workspace=workspace)
    inbox = InboxFactory(workspace=workspace, channel="email")
    began = NOW - dt.timedelta(days=3)
    Conversation.objects.create(
        workspace=workspace,
        inbox=inbox,
        channel="email",
        customer=loyal,
        status="resolved",
        first_customer_message_at=began,
        resolved_at=began + dt.timedelta(hours=2),
    )
    rollups.rollups_refresh(workspace=workspace, now=NOW)
    before = metric_values(workspace=workspace, filters=filters, now=a_week_later)
    _age(workspace)
    Conversation.objects.create(
        workspace=workspace,
        inbox=inbox,
        channel="sms",
        customer=loyal,
        first_customer_message_at=began + dt.timedelta(days=1),
    )

    rollups.rollups_refresh(workspace=workspace, now=NOW + dt.timedelta(minutes=5))

    after = metric_values(workspace=workspace, filters=filters, now=a_week_later)
    assert after["fcr_rate"] != before["fcr_rate"]
    assert_same_figures(
        after,
        _direct(
            workspace,
            lambda: metric_values(workspace=workspace, filters=filters, now=a_week_later),
        ),
    )


def test_conversations_started_since_the_refresh_are_counted_directly(workspace, rolled_up):
    data, _ = rolled_up
    filters = _filters(workspace, data, first=2, length=2, pick="channel=email")
    later = NOW + dt.timedelta(hours=1)
    before = metric_values(workspace=workspace, filters=filters, now=later)
    Conversation.objects.create(
        workspace=workspace,
        inbox=InboxFactory(workspace=workspace, channel="email"),
        channel="email",
        customer=CustomerFactory(workspace=workspace),
        first_customer_message_at=NOW + dt.timedelta(minutes=10),
    )

    after = metric_values(workspace=workspace, filters=filters, now=later)

    assert after["conversations"] == (before["conversations"] or 0) + 1
    assert_same_figures(
        after,
        _direct(workspace, lambda: metric_values(workspace=workspace, filters=filters, now=later)),
    )


def test_rollups_are_per_workspace(workspace, other_workspace, rolled_up):
    data, _ = rolled_up
    _fill(other_workspace, seed=8, count=30)
    rollups.rollups_refresh(workspace=other_workspace, now=NOW)
    filters = _filters(workspace, data, first=DAYS, length=DAYS, pick="")

    mine = metric_values(workspace=workspace, filters=filters, now=NOW)
    assert mine["conversations"] == Conversation.objects.filter(workspace=workspace).count()
    assert_same_figures(
        mine,
        _direct(workspace, lambda: metric_values(workspace=workspace, filters=filters, now=NOW)),
    )


def test_the_rollups_command_refreshes_every_workspace_or_one(workspace, other_workspace):
    from click.testing import CliRunner

    from ascolto.analytics.cli import analytics

    _fill(workspace, seed=9, count=20)
    runner = CliRunner()

    one = runner.invoke(analytics, ["rollups", "--workspace", workspace.slug])
    assert one.exit_code == 0, one.output
    assert f"{workspace.slug}: " in one.output
    assert ConversationRollupState.objects.filter(workspace=workspace).exists()
    assert not ConversationRollupState.objects.filter(workspace=other_workspace).exists()

    unknown = runner.invoke(analytics, ["rollups", "--workspace", "no-such-place"])
    assert unknown.exit_code != 0
    assert "No workspace with the slug 'no-such-place'" in unknown.output

    full = runner.invoke(analytics, ["rollups", "--full"])
    assert full.exit_code == 0, full.output
    assert ConversationRollupState.objects.filter(workspace=other_workspace).exists()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=5e6, allow_nan=False), min_size=1, max_size=40))
def test_a_median_read_from_the_histogram_is_within_the_documented_resolution(durations):
    hist: dict[int, int] = {}
    for seconds in durations:
        hist[bucket(seconds)] = hist.get(bucket(seconds), 0) + 1
    ordered = sorted(durations)
    middle = len(ordered) // 2
    exact = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2

    got = histogram_median(hist)

    assert got is not None
    assert abs(got - exact) <= tolerance(exact)


def test_buckets_are_whole_seconds_below_a_minute_then_two_percent_wide():
    assert [bucket(s) for s in (0, 0.9, 1, 59.99)] == [0, 0, 1, 59]
    assert bucket(60) == 60
    assert bucket_value(bucket(3600)) == pytest.approx(3600, rel=0.01)
    assert histogram_median({}) is None
    assert Tally().values(now=NOW)["frt_median"] is None


def test_team_view_csat_per_agent_comes_from_the_survey_rollups(workspace, rolled_up):
    from ascolto.surveys import rollups as survey_rollups
    from tests.analytics.dashboards.conftest import survey_response

    data, _ = rolled_up
    anna, bruno = data["agents"][0], data["agents"][1]
    customer = CustomerFactory(workspace=workspace)
    two_days_ago = NOW - dt.timedelta(days=2)
    for n, (agent, score) in enumerate([(anna, 5), (anna, 2), (bruno, 4)]):
        survey_response(workspace, customer, csat=score, agent=agent, when=two_days_ago, n=n)
    survey_rollups.rollups_refresh(workspace=workspace, now=NOW)

    for pick in ("", "agent=0"):
        filters = _filters(workspace, data, first=5, length=5, pick=pick)
        board = team.build(workspace=workspace, filters=filters, now=NOW)
        column = [str(h) for h in board.table_headers].index("CSAT")
        csat = {row[0][0]: row[column][0] for row in board.table_rows}

        assert csat[str(anna)] == "50.0%"
        assert csat.get(str(bruno)) == (None if pick else "100.0%")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.integers(min_value=0, max_value=900), st.integers(min_value=0, max_value=10**6)
        ),
        max_size=6,
    )
)
def test_stored_histograms_merge_to_the_sum_of_their_counts(histograms):
    expected: dict[int, int] = {}
    for hist in histograms:
        for index, count in hist.items():
            if count:
                expected[index] = expected.get(index, 0) + count

    merged = unpack([pack(hist) for hist in histograms])

    assert dict(merged) == expected
    assert histogram_median(merged) == histogram_median(expected)


@pytest.mark.parametrize(
    "pick",
    [
        "",
        "language=it",
        "channel=email",
        "language=it+tier=gold",
        "channel=email+team=0",
        "channel=sms+language=it+tier=unranked",
    ],
)
def test_team_view_per_agent_figures_from_rollups_equal_the_direct_ones(workspace, rolled_up, pick):
    data, _ = rolled_up
    filters = _filters(workspace, data, first=DAYS, length=DAYS - 1, pick=pick)

    chosen = rollups.selection(
        workspace=workspace, filters=filters, now=NOW, per_agent=True, with_messages=False
    )
    _, _, direct = _direct(workspace, lambda: team._direct(workspace, filters, NOW))

    assert chosen is not None
    rolled = chosen.agent_values(now=NOW)
    assert rolled.keys() == direct.keys()
    assert len(rolled) >= 2
    for agent_id, values in rolled.items():
        exact = direct[agent_id]
        assert values["conversations"] == exact["conversations"]
        assert values["resolved"] == exact["resolved"]
        assert (values["aht_mean"] is None) == (exact["aht_mean"] is None)
        if exact["aht_mean"] is not None:
            assert values["aht_mean"] == pytest.approx(exact["aht_mean"], rel=1e-9)
        assert (values["frt_median"] is None) == (exact["frt_median"] is None)
        if exact["frt_median"] is not None:
            assert abs((values["frt_median"] or 0) - exact["frt_median"]) <= tolerance(
                exact["frt_median"]
            )


def test_after_the_upgrade_that_adds_three_filter_rows_the_next_refresh_builds_them(
    workspace, rolled_up
):
    from django.apps import apps

    upgrade = importlib.import_module("ascolto.analytics.migrations.0011_rollup_three_filters")
    data, _ = rolled_up
    filters = _filters(
        workspace, data, first=DAYS, length=DAYS - 1, pick="channel=email+language=it+tier=gold"
    )
    ConversationRollup.objects.filter(dimension="channel+language+tier").delete()  # as before it

    upgrade.rebuild_conversation_rollups(apps, None)

    assert rollups.selection(workspace=workspace, filters=filters, now=NOW) is None  # direct
    rollups.rollups_refresh(workspace=workspace, now=NOW)
    assert ConversationRollup.objects.filter(dimension="channel+language+tier").exists()
    rolled = metric_values(workspace=workspace, filters=filters, now=NOW)
    direct = _direct(
        workspace, lambda: metric_values(workspace=workspace, filters=filters, now=NOW)
    )
    assert_same_figures(rolled, direct)
