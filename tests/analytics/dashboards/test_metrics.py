"""Dashboard figures against the hand-computed scenario (see conftest)."""

from __future__ import annotations

import datetime as dt

import pytest

from ascolto.analytics.dashboards.conversations import filtered_facts, subset
from ascolto.analytics.dashboards.filters import parse_filters
from ascolto.analytics.dashboards.metrics import metric_values
from ascolto.core.errors import ValidationFailed
from tests.analytics.dashboards.conftest import NOW, PERIOD, survey_response


def values(scenario, **extra):
    filters = parse_filters({**PERIOD, **extra}, workspace=scenario.workspace)
    return metric_values(workspace=scenario.workspace, filters=filters, now=NOW)


def test_unfiltered_figures_match_the_hand_computation(scenario):
    v = values(scenario)

    assert v["conversations"] == 3
    assert v["resolved"] == 2
    assert v["backlog"] == 1
    assert v["frt_median"] == 1200  # median of 600 and 1800
    assert v["resolution_median"] == 5400  # median of 3600 and 7200
    assert v["reopen_rate"] == 50  # c2 of the two ever resolved
    assert v["transfers"] == pytest.approx(1 / 3)
    assert v["sla_first_response"] == 0  # c3 only has a target, and missed it
    assert v["fcr_rate"] == 50  # c1 yes, c2 reopened; both judged 7 days before NOW
    assert v["nps"] is None  # no answers: no score, never 0


@pytest.mark.parametrize(
    ("extra", "conversations", "frt_median"),
    [
        ({"channel": "webchat"}, 2, 600),
        ({"channel": "email"}, 1, 1800),
        ({"tier": "silver"}, 2, 1800),
        ({"tier": "gold"}, 1, 600),
        ({"language": "it"}, 1, 1800),
    ],
)
def test_filters_change_the_numbers(scenario, extra, conversations, frt_median):
    v = values(scenario, **extra)

    assert v["conversations"] == conversations
    assert v["frt_median"] == frt_median


def test_team_and_agent_filters(scenario):
    assert values(scenario, team=str(scenario.team.pk))["conversations"] == 2
    by_agent2 = values(scenario, agent=str(scenario.agent2.pk))
    assert by_agent2["conversations"] == 1
    assert by_agent2["reopen_rate"] == 100


def test_previous_period_is_the_same_length_just_before(scenario):
    filters = parse_filters(PERIOD, workspace=scenario.workspace)
    previous = filters.previous()

    assert previous.period.first_day == dt.date(2026, 2, 23)
    assert previous.period.last_day == dt.date(2026, 3, 1)
    v = metric_values(workspace=scenario.workspace, filters=previous, now=NOW)
    assert v["conversations"] == 1
    assert v["frt_median"] == 1200


def test_the_period_is_whole_days_in_the_workspace_time_zone(scenario):
    # 2026-03-01 23:30 in Rome is 22:30Z on 03-01: the previous period, not this one.
    from tests.analytics.dashboards.conftest import conversation

    conversation(
        scenario.workspace,
        customer=scenario.gold,
        channel="sms",
        start=dt.datetime(2026, 3, 1, 22, 30, tzinfo=dt.UTC),
    )
    conversation(
        scenario.workspace,
        customer=scenario.gold,
        channel="sms",
        start=dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC),  # 00:30 on 03-02 in Rome
    )

    assert values(scenario, channel="sms")["conversations"] == 1


def test_drill_subsets_hold_exactly_the_counted_conversations(scenario):
    filters = parse_filters(PERIOD, workspace=scenario.workspace)
    facts = filtered_facts(workspace=scenario.workspace, filters=filters)

    assert [c.id for c in subset(facts, "all", now=NOW)] == [
        scenario.c1.pk,
        scenario.c2.pk,
        scenario.c3.pk,
    ]
    assert [c.id for c in subset(facts, "resolved", now=NOW)] == [scenario.c1.pk, scenario.c2.pk]
    assert [c.id for c in subset(facts, "reopened", now=NOW)] == [scenario.c2.pk]
    assert [c.id for c in subset(facts, "frt_missed", now=NOW)] == [scenario.c3.pk]
    assert [c.id for c in subset(facts, "active", now=NOW)] == [scenario.c3.pk]
    assert subset(facts, "handled", now=NOW) == []


def test_handle_time_counts_each_agents_spans_once(scenario):
    from ascolto.inbox.models import HandlingInterval
    from tests.analytics.dashboards.conftest import at

    for start, end in [(0, 300), (200, 400)]:  # overlapping spans of one agent: 400 s
        HandlingInterval.objects.create(
            workspace=scenario.workspace,
            conversation=scenario.c1,
            agent=scenario.agent1,
            started_at=at(2, 9) + dt.timedelta(seconds=start),
            ended_at=at(2, 9) + dt.timedelta(seconds=end),
        )
    HandlingInterval.objects.create(
        workspace=scenario.workspace,
        conversation=scenario.c2,
        agent=scenario.agent2,
        started_at=at(3, 12),
        ended_at=at(3, 12) + dt.timedelta(seconds=200),
    )
    filters = parse_filters(PERIOD, workspace=scenario.workspace)
    facts = filtered_facts(workspace=scenario.workspace, filters=filters)

    assert values(scenario)["aht_mean"] == 300  # (400 + 200) / 2 handled conversations
    assert [c.id for c in subset(facts, "handled", now=NOW)] == [scenario.c1.pk, scenario.c2.pk]


def test_other_workspaces_never_count(scenario, other_workspace):
    filters = parse_filters(PERIOD, workspace=other_workspace)

    v = metric_values(workspace=other_workspace, filters=filters, now=NOW)

    assert v["conversations"] == 1
    assert v["frt_median"] == 60


def test_survey_figures_follow_the_filters(scenario):
    ws, when = scenario.workspace, dt.datetime(2026, 3, 5, 10, tzinfo=dt.UTC)
    survey_response(ws, scenario.gold, nps=10, channel="webchat", when=when, n=1)
    survey_response(ws, scenario.gold, nps=9, channel="webchat", when=when, n=2)
    survey_response(ws, scenario.silver, nps=3, channel="email", when=when, n=3)
    survey_response(ws, scenario.silver, csat=4, channel="email", when=when, n=4)
    survey_response(ws, scenario.silver, csat=2, channel="email", when=when, n=5)

    v = values(scenario)
    assert v["nps"] == pytest.approx(100 * (2 - 1) / 3)
    assert v["csat"] == 50
    assert v["survey_responses"] == 5
    assert values(scenario, channel="webchat")["nps"] == 100
    assert values(scenario, channel="email")["nps"] == -100


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"from": "2026-03-09", "to": "2026-03-01"}, "from"),
        ({"from": "2024-01-01", "to": "2026-03-01"}, "to"),
        ({"channel": "pigeon"}, "channel"),
        ({"tier": "diamond"}, "tier"),
        ({"team": "abc"}, "team"),
        ({"team": "999999"}, "team"),
        ({"agent": "999999"}, "agent"),
        ({"language": "<script>"}, "language"),
    ],
)
def test_bad_filters_name_the_field(scenario, params, field):
    with pytest.raises(ValidationFailed) as caught:
        parse_filters(params, workspace=scenario.workspace)

    assert field in caught.value.field_errors


def test_a_team_of_another_workspace_is_refused(scenario, other_workspace):
    from tests.accounts.factories import TeamFactory

    foreign_team = TeamFactory(workspace=other_workspace)

    with pytest.raises(ValidationFailed):
        parse_filters({"team": str(foreign_team.pk)}, workspace=scenario.workspace)


def test_without_messages_the_message_metrics_are_unknown_not_zero(scenario):
    filters = parse_filters(PERIOD, workspace=scenario.workspace)

    light = metric_values(
        workspace=scenario.workspace, filters=filters, now=NOW, with_messages=False
    )
    full = metric_values(workspace=scenario.workspace, filters=filters, now=NOW)

    assert light["nrt_median"] is None
    assert light["automation_rate"] is None
    assert full["automation_rate"] == 0  # two resolved, both by agents
    assert {k: v for k, v in light.items() if k not in ("nrt_median", "automation_rate")} == {
        k: v for k, v in full.items() if k not in ("nrt_median", "automation_rate")
    }
