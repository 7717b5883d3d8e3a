"""Contacts concentration and the cost to serve each value tier, against hand-computed cases, the
same from the rollups as from the conversations."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ascolto.analytics import rollups
from ascolto.analytics.dashboards.filters import DashboardFilters, period_of
from ascolto.analytics.dashboards.service_cost import (
    contact_share_for,
    contacts_per_customer,
    cost_to_serve,
)
from ascolto.analytics.value.pareto import share_of_customers_for
from ascolto.inbox.models import Conversation, HandlingInterval
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 5, 20, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture
def served(workspace: Any) -> dict[str, Any]:
    """A (gold): 3 conversations with an hour of agent time; B and C (silver): one each, 15
    minutes each; D (no tier): one, never handled; E (gold): one by email, 6 minutes."""
    agent = UserFactory()
    MembershipFactory(workspace=workspace, user=agent, role="agent")
    chat = InboxFactory(workspace=workspace, channel="webchat")
    email = InboxFactory(workspace=workspace, channel="email")
    people = {
        name: CustomerFactory(workspace=workspace, value_tier=tier)
        for name, tier in (
            ("A", "gold"),
            ("B", "silver"),
            ("C", "silver"),
            ("D", ""),
            ("E", "gold"),
        )
    }

    def conversation(who: str, days_ago: int, minutes: float = 0, inbox: Any = chat) -> None:
        began = NOW - days_ago * DAY
        c = Conversation.objects.create(
            workspace=workspace,
            inbox=inbox,
            channel=inbox.channel,
            customer=people[who],
            assignee=agent,
            first_customer_message_at=began,
        )
        if minutes:
            HandlingInterval.objects.create(
                workspace=workspace,
                conversation=c,
                agent=agent,
                started_at=began,
                ended_at=began + dt.timedelta(minutes=minutes),
            )

    conversation("A", 3, 20)
    conversation("A", 4, 20)
    conversation("A", 5, 20)
    conversation("B", 3, 15)
    conversation("C", 6, 15)
    conversation("D", 2)
    conversation("E", 2, 6, inbox=email)
    conversation("B", 40, 15)  # before the period
    return people


def _filters(**extra: Any) -> DashboardFilters:
    today = NOW.date()
    return DashboardFilters(
        period=period_of(today - 9 * DAY, today - DAY, ZoneInfo("UTC")), **extra
    )


def test_contacts_are_counted_per_customer_by_the_database(workspace: Any, served: Any) -> None:
    histogram = contacts_per_customer(workspace=workspace, filters=_filters())

    assert histogram == {3: 1, 1: 4}  # A three times; B, C, D and E once
    # Half of the 7 contacts needs A (3) and one more: 2 of 5 customers.
    assert contact_share_for(histogram) == pytest.approx(0.4)
    assert contact_share_for(histogram) == share_of_customers_for([3, 1, 1, 1, 1], 0.5)
    assert contact_share_for({}) is None


def test_the_conversation_filters_narrow_the_contacts(workspace: Any, served: Any) -> None:
    assert contacts_per_customer(workspace=workspace, filters=_filters(channel="email")) == {1: 1}
    assert contacts_per_customer(workspace=workspace, filters=_filters(tier="silver")) == {1: 2}


@pytest.mark.parametrize("rolled_up", [False, True])
def test_cost_to_serve_per_tier(workspace: Any, served: Any, rolled_up: bool) -> None:
    if rolled_up:
        rollups.rollups_refresh(workspace=workspace, now=NOW)
    revenue = {"gold": 100.0, "silver": 300.0, "platinum": 0.0}

    rows = {
        r.tier: r
        for r in cost_to_serve(
            workspace=workspace, filters=_filters(), revenue_by_tier=revenue, now=NOW
        )
    }

    assert set(rows) == {"gold", "silver", "unranked"}  # platinum: no contact, no revenue
    gold, silver, unranked = rows["gold"], rows["silver"], rows["unranked"]
    assert (gold.conversations, silver.conversations, unranked.conversations) == (4, 2, 1)
    assert gold.agent_hours == pytest.approx(66 / 60)
    assert silver.agent_hours == pytest.approx(0.5)
    assert unranked.agent_hours == 0
    total_hours = 96 / 60
    assert gold.hours_share == pytest.approx((66 / 60) / total_hours)
    assert gold.conversation_share == pytest.approx(4 / 7)
    assert silver.revenue_share == pytest.approx(0.75)
    assert unranked.revenue_share == 0
    assert silver.revenue_per_agent_hour == pytest.approx(600.0)
    assert unranked.revenue_per_agent_hour is None
    assert silver.hours_per_conversation == pytest.approx(0.25)


def test_cost_to_serve_with_a_tier_and_a_channel_filter(workspace: Any, served: Any) -> None:
    rollups.rollups_refresh(workspace=workspace, now=NOW)

    (row,) = cost_to_serve(
        workspace=workspace,
        filters=_filters(tier="gold", channel="email"),
        revenue_by_tier={"gold": 50.0},
        now=NOW,
    )

    assert (row.tier, row.conversations, row.revenue) == ("gold", 1, 50.0)
    assert row.agent_hours == pytest.approx(0.1)
    assert row.hours_share == 1.0


def test_another_workspace_s_contacts_are_not_counted(
    workspace: Any, other_workspace: Any, served: Any
) -> None:
    assert contacts_per_customer(workspace=other_workspace, filters=_filters()) == {}
    assert (
        cost_to_serve(workspace=other_workspace, filters=_filters(), revenue_by_tier={}, now=NOW)
        == []
    )


def test_the_value_dashboard_shows_the_shares_and_the_cost_to_serve(
    workspace: Any, served: Any
) -> None:
    from ascolto.analytics.dashboards import value
    from tests.customers.factories import OrderFactory

    workspace.timezone = "UTC"
    workspace.save()
    for who, total in (("A", "100.00"), ("B", "250.00"), ("C", "50.00")):
        OrderFactory(
            workspace=workspace,
            customer=served[who],
            total=total,
            currency=workspace.default_currency,
            placed_at=NOW - 3 * DAY,
        )

    board = value.build(workspace=workspace, filters=_filters(), now=NOW)

    figures = {f.key: f.value for f in board.figures}
    assert figures["share_for_50"] == pytest.approx(100 / 3)  # B alone: 250 of 400
    assert figures["contacts_for_50"] == pytest.approx(40.0)  # A and one more of five
    tiers = [row[0][0] for row in board.table_rows]
    assert tiers == ["Gold", "Silver", "Unranked"]
    gold = board.table_rows[0]
    assert gold[1][0] == "4 (57%)"  # conversations, share of 7
    assert gold[2][0] == "1.1 (69%)"  # 66 of 96 agent minutes
    assert gold[3][0] == "100 (25%)"
    assert gold[4][0] == "91"  # revenue per agent hour
    assert "tier=gold" in gold[1][1]
