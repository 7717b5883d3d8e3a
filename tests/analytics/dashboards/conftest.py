"""A small workspace whose dashboard figures are computed by hand in the tests.

Workspace time zone Europe/Rome (UTC+1 in early March 2026). Period 2026-03-02..2026-03-08,
previous period 2026-02-23..2026-03-01.

current period
  c1 webchat gold   agent1 team "Support" en  start 03-02 09:00Z  FRT 600 s   resolved +3600 s
  c2 email   silver agent2 -               it  start 03-03 12:00Z  FRT 1800 s  resolved +7200 s,
                                                                    reopened once, transferred once
  c3 webchat silver agent1 team "Support" en  start 03-04 08:00Z  unanswered, open, first
                                                                    response due 09:00Z (missed)
previous period
  p1 webchat gold   agent1                en  start 02-24 10:00Z  FRT 1200 s  resolved +1800 s
other workspace: one conversation on 03-02.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from ascolto.inbox.models import Conversation, Message
from ascolto.surveys.models import Invitation, Response
from tests.accounts.factories import MembershipFactory, TeamFactory, UserFactory
from tests.api.conftest import make_token  # noqa: F401 (shared API fixture)
from tests.customers.factories import CustomerFactory
from tests.inbox.factories import InboxFactory
from tests.surveys.factories import make_survey
from tests.ui.conftest import login

PERIOD = {"from": "2026-03-02", "to": "2026-03-08"}
NOW = dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC)


def at(day: int, hour: int, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


def conversation(
    workspace: Any,
    *,
    customer: Any,
    channel: str,
    start: dt.datetime,
    assignee: Any = None,
    team: Any = None,
    language: str = "en",
    frt: int | None = None,
    resolved_after: int | None = None,
    reopen_count: int = 0,
    transfer_count: int = 0,
    first_response_due_at: dt.datetime | None = None,
) -> Conversation:
    """A conversation with the timestamps and counters the inbox services record."""
    inbox = InboxFactory(workspace=workspace, channel=channel)
    first_response = start + dt.timedelta(seconds=frt) if frt is not None else None
    resolved = start + dt.timedelta(seconds=resolved_after) if resolved_after is not None else None
    c = Conversation.objects.create(
        workspace=workspace,
        inbox=inbox,
        channel=channel,
        customer=customer,
        status="resolved" if resolved else "open",
        language=language,
        assignee=assignee,
        team=team,
        first_customer_message_at=start,
        first_response_at=first_response,
        resolved_at=resolved,
        reopen_count=reopen_count,
        transfer_count=transfer_count,
        first_response_due_at=first_response_due_at,
    )
    Conversation.objects.filter(pk=c.pk).update(created_at=start)
    Message.objects.create(
        workspace=workspace, conversation=c, inbox=inbox, kind="inbound", text="q"
    )
    if first_response is not None:
        m = Message.objects.create(
            workspace=workspace, conversation=c, inbox=inbox, kind="outbound", text="a"
        )
        Message.objects.filter(pk=m.pk).update(created_at=first_response)
    Message.objects.filter(conversation=c, kind="inbound").update(created_at=start)
    c.refresh_from_db()
    return c


@dataclass
class Scenario:
    workspace: Any
    agent1: Any
    agent2: Any
    team: Any
    gold: Any
    silver: Any
    c1: Conversation
    c2: Conversation
    c3: Conversation
    p1: Conversation
    foreign: Conversation


@pytest.fixture
def scenario(workspace: Any, other_workspace: Any) -> Scenario:
    agent1 = UserFactory(first_name="Anna", last_name="Alpha")
    agent2 = UserFactory(first_name="Bruno", last_name="Beta")
    for user in (agent1, agent2):
        user.save()
        MembershipFactory(workspace=workspace, user=user, role="agent")
    team = TeamFactory(workspace=workspace, name="Support")
    gold = CustomerFactory(workspace=workspace, name="Gold Gianna", value_tier="gold")
    silver = CustomerFactory(workspace=workspace, name="Silver Sara", value_tier="silver")
    c1 = conversation(
        workspace, customer=gold, channel="webchat", start=at(2, 9), assignee=agent1,
        team=team, frt=600, resolved_after=3600,
    )  # fmt: skip
    c2 = conversation(
        workspace, customer=silver, channel="email", start=at(3, 12), assignee=agent2,
        language="it", frt=1800, resolved_after=7200, reopen_count=1, transfer_count=1,
    )  # fmt: skip
    c3 = conversation(
        workspace, customer=silver, channel="webchat", start=at(4, 8), assignee=agent1,
        team=team, first_response_due_at=at(4, 9),
    )  # fmt: skip
    p1 = conversation(
        workspace, customer=gold, channel="webchat", start=at(24, 10, month=2),
        assignee=agent1, frt=1200, resolved_after=1800,
    )  # fmt: skip
    foreign = conversation(
        other_workspace,
        customer=CustomerFactory(workspace=other_workspace),
        channel="webchat",
        start=at(2, 10),
        frt=60,
    )
    return Scenario(workspace, agent1, agent2, team, gold, silver, c1, c2, c3, p1, foreign)


def survey_response(
    workspace: Any, customer: Any, *, nps: int | None = None, csat: int | None = None,
    channel: str = "webchat", agent: Any = None, when: dt.datetime, n: int = 0,
) -> Response:  # fmt: skip
    survey = make_survey(workspace, "nps" if nps is not None else "csat", name=f"S{n}")
    invitation = Invitation.objects.create(
        workspace=workspace,
        survey=survey,
        customer=customer,
        channel="email",
        status="sent",
        source_key=f"k{n}",
        context_channel=channel,
        send_after=when,
        sent_at=when,
        opened_at=when,
        answered_at=when,
    )
    r = Response.objects.create(
        workspace=workspace,
        survey=survey,
        invitation=invitation,
        customer=customer,
        nps_score=nps,
        csat_score=csat,
        touchpoint="support",
        channel=channel,
        agent=agent,
        completed=True,
    )
    Response.objects.filter(pk=r.pk).update(created_at=when)
    return r


@pytest.fixture
def member_client(client: Client, scenario: Scenario) -> Client:
    return login(client, scenario.agent1)
