"""Occupancy and workload on the team view, the assistant's confirmed resolutions and deflection
on the service operations view, figured by hand on the dashboards' small scenario
(tests/analytics/dashboards/conftest.py: period 2026-03-02..08, Europe/Rome)."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from typing import Any

from ascolto.analytics.dashboards import drill
from ascolto.analytics.dashboards.filters import parse_filters
from ascolto.assistant.models import BotSession, DeflectionOffer
from ascolto.inbox.models import AgentProfile, AvailabilitySpan, Conversation, HandlingInterval
from tests.analytics.dashboards import conftest as board
from tests.analytics.dashboards.conftest import PERIOD, at, conversation
from tests.analytics.dashboards.test_views import figure, figure_link, get
from tests.customers.factories import CustomerFactory

# The dashboards' hand-figured scenario and its signed-in member, as fixtures here too.
scenario = board.scenario
member_client = board.member_client


def listed(client: Any, link: str) -> list[int]:
    page = client.get(unescape(link)).content.decode()
    return [int(pk) for pk in re.findall(r'data-conversation="(\d+)"', page)]


def agent_row(html: str, agent: Any) -> str:
    table = html[html.index('data-testid="agent-table"') :]
    row = table[table.index(str(agent)) :]
    return row[: row.index("</tr>")]


def cells(row: str) -> list[str]:
    """The row's cells after the agent's name: conversations, resolved, FRT, AHT, online time,
    occupancy, open now / capacity, CSAT."""
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]


def _online(workspace: Any, agent: Any, start: dt.datetime, end: dt.datetime | None) -> None:
    AvailabilitySpan.objects.create(
        workspace=workspace, agent=agent, status="online", started_at=start, ended_at=end
    )


def test_team_view_shows_online_time_occupancy_and_open_now_against_capacity(
    member_client, scenario
):
    ws, anna, bruno = scenario.workspace, scenario.agent1, scenario.agent2
    # Anna: online 03-02 08:00-10:00Z and from 03-08 22:00Z (the period ends at 23:00Z, the
    # end of 03-08 in Rome): 3 h; away 10:00-12:00Z does not count. She handled c1 from 09:00 to
    # 09:45Z (45 min, inside online time) and again 10:30-11:00Z (while away): 45 of 180 min.
    _online(ws, anna, at(2, 8), at(2, 10))
    AvailabilitySpan.objects.create(
        workspace=ws, agent=anna, status="away", started_at=at(2, 10), ended_at=at(2, 12)
    )
    _online(ws, anna, at(8, 22), at(9, 3))
    minutes = dt.timedelta(minutes=1)
    for start, end in [(at(2, 9), at(2, 9) + 45 * minutes), (at(2, 10) + 30 * minutes, at(2, 11))]:
        HandlingInterval.objects.create(
            workspace=ws, conversation=scenario.c1, agent=anna, started_at=start, ended_at=end
        )
    AgentProfile.objects.create(workspace=ws, user=anna, capacity={"*": 4, "email": 2})
    # Open now for Anna: c3 (in the period) and one started in January, still pending.
    older = conversation(ws, customer=scenario.gold, channel="email", start=at(10, 9, month=1))
    Conversation.objects.filter(pk=older.pk).update(assignee=anna, status="pending")

    html = get(member_client, "team").content.decode()

    row = agent_row(html, anna)
    assert cells(row)[4:7] == ["3.0 h", "25.0%", "2 / 4"]
    open_link = re.findall(r'<a href="([^"]+)">2 / 4</a>', row)[0]
    assert listed(member_client, open_link) == [scenario.c3.pk, older.pk]
    # Bruno: no availability history, nothing open, no profile.
    assert cells(agent_row(html, bruno))[4:7] == ["\u2013", "\u2013", "0"]

    # The channel filter counts that channel's open conversations against its own capacity.
    by_email = get(member_client, "team", channel="email").content.decode()
    assert cells(agent_row(by_email, anna))[4:7] == ["3.0 h", "25.0%", "1 / 2"]


def test_an_agent_online_without_conversations_is_listed(member_client, scenario):
    from tests.accounts.factories import MembershipFactory, UserFactory

    carla = UserFactory(first_name="Carla", last_name="Gamma")
    MembershipFactory(workspace=scenario.workspace, user=carla, role="agent")
    _online(scenario.workspace, carla, at(3, 9), at(3, 10))

    html = get(member_client, "team").content.decode()

    assert cells(agent_row(html, carla))[4:7] == ["1.0 h", "0.0%", "0"]


def test_the_open_now_list_ignores_the_period_but_keeps_the_other_filters(scenario):
    older = conversation(
        scenario.workspace, customer=scenario.gold, channel="email", start=at(10, 9, month=1)
    )
    Conversation.objects.filter(pk=older.pk).update(assignee=scenario.agent1)
    ws = scenario.workspace

    def open_now(**params: str) -> list[int]:
        filters = parse_filters({**PERIOD, **params}, workspace=ws)
        _, count, rows = drill.drill_conversations(
            workspace=ws, filters=filters, name="open_now", now=at(20, 12)
        )
        assert count == len(rows)
        return [c.pk for c in rows]

    assert open_now() == [scenario.c3.pk, older.pk]
    assert open_now(channel="webchat") == [scenario.c3.pk]
    assert open_now(agent=str(scenario.agent2.pk)) == []


def _bot(conversation: Conversation, *, confirmed: bool) -> None:
    BotSession.objects.create(
        workspace=conversation.workspace,
        conversation=conversation,
        state="resolved",
        confirmed=confirmed,
    )


def _offer(workspace: Any, when: dt.datetime, *, confirmed: bool, customer: Any = None) -> None:
    offer = DeflectionOffer.objects.create(
        workspace=workspace,
        source="widget",
        language="en",
        customer=customer,
        confirmed_at=when if confirmed else None,
    )
    DeflectionOffer.objects.filter(pk=offer.pk).update(created_at=when)


def test_operations_shows_the_assistants_confirmed_resolutions_and_deflection(
    member_client, scenario
):
    ws = scenario.workspace
    # Current period: c1 confirmed, c3 not; previous period: p1 confirmed.
    _bot(scenario.c1, confirmed=True)
    _bot(scenario.c3, confirmed=False)
    _bot(scenario.p1, confirmed=True)
    # Offers: this period one confirmed, one anonymous (assumed after 24 h), one followed by
    # a conversation of its customer within 24 h (c2 started 03-03 12:00Z); the period
    # before, one confirmed and one assumed.
    _offer(ws, at(3, 10), confirmed=True)
    _offer(ws, at(4, 10), confirmed=False)
    _offer(ws, at(3, 11), confirmed=False, customer=scenario.silver)
    _offer(ws, at(25, 10, month=2), confirmed=True)
    _offer(ws, at(26, 10, month=2), confirmed=False, customer=CustomerFactory(workspace=ws))

    html = get(member_client, "operations").content.decode()

    assert figure(html, "confirmed_resolutions") == "1.0"
    assert figure(html, "deflection_confirmed") == "1.0"
    assert figure(html, "deflection_assumed") == "1.0"
    assert re.search(r'data-metric="confirmed_resolutions".*?data-delta="0(\.0)?"', html, re.S)
    assert listed(member_client, figure_link(html, "confirmed_resolutions")) == [scenario.c1.pk]
    assert 'data-metric="automation_rate"' in html


def test_the_assistant_figures_are_not_narrowed_by_filters_so_none_is_shown(
    member_client, scenario
):
    _bot(scenario.c1, confirmed=True)

    html = get(member_client, "operations", channel="webchat").content.decode()

    assert figure(html, "confirmed_resolutions") == ""
    assert figure(html, "deflection_confirmed") == ""
