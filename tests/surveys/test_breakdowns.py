"""Metric breakdowns from the database: every dimension, labels, periods, empty groups."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from ascolto.surveys import selectors, services
from ascolto.surveys.models import Invitation, Response
from tests.accounts.factories import MembershipFactory, TeamFactory, UserFactory
from tests.surveys.factories import SYSTEM, consenting_customer, make_survey, sent_invitation


@pytest.fixture
def answered(workspace):
    """NPS answers from two agents/teams, two tiers, two languages, plus one CSAT answer."""
    services.settings_update(workspace=workspace, actor=SYSTEM, suppression_days=0)
    anna, bruno = UserFactory(first_name="Anna", last_name="Bianchi"), UserFactory()
    for user in (anna, bruno):
        MembershipFactory(workspace=workspace, user=user)
    north, south = (
        TeamFactory(workspace=workspace, name="North"),
        TeamFactory(workspace=workspace, name="South"),
    )
    nps = make_survey(workspace, "nps", touchpoint="support")
    csat = make_survey(workspace, "csat", touchpoint="delivery")
    rows = [
        # survey, score, agent, team, tier, locale
        (nps, 10, anna, north, "gold", "it"),
        (nps, 9, anna, north, "gold", "he"),
        (nps, 2, bruno, south, "", "it"),
        (csat, 5, None, None, "gold", "en"),
    ]
    for index, (survey, score, agent, team, tier, locale) in enumerate(rows):
        customer = consenting_customer(workspace, locale=locale, value_tier=tier)
        invitation, _ = sent_invitation(survey, customer, source_key=f"k{index}")
        Invitation.objects.filter(pk=invitation.pk).update(agent=agent, team=team)
        invitation.refresh_from_db()
        services.response_record(invitation=invitation, answers={"score": score}, keys=["score"])
    return {"anna": anna, "bruno": bruno, "north": north, "south": south, "nps": nps}


def groups(workspace, by, **filters):
    result = selectors.metric_counts(
        workspace=workspace, filters=selectors.ResponseFilter(**filters), by=by
    )
    return result, {label: metrics for metrics, label in result.groups}


def test_by_agent_and_team_with_readable_labels(workspace, answered):
    _, by_agent = groups(workspace, "agent")
    _, by_team = groups(workspace, "team")

    assert by_agent["Anna Bianchi"].nps.score == 100.0
    assert by_agent[str(answered["bruno"])].nps.score == -100.0
    # The CSAT answer had no agent: its group exists, with CSAT and no NPS.
    assert by_agent[""].nps.score is None
    assert by_agent[""].csat.percent == 100.0
    assert by_team["North"].responses == 2
    assert by_team["South"].nps.detractors == 1


def test_by_segment_language_and_touchpoint(workspace, answered):
    _, by_segment = groups(workspace, "segment")
    _, by_language = groups(workspace, "language")
    totals, by_touchpoint = groups(workspace, "touchpoint")

    assert by_segment["Gold"].responses == 3
    assert by_segment["Unranked"].nps.score == -100.0
    assert by_language["Italiano"].nps.n == 2
    assert by_language["עברית"].nps.score == 100.0
    assert by_touchpoint["Support"].nps.n == 3
    assert by_touchpoint["Delivery"].csat.n == 1
    assert totals.totals.responses == 4
    assert totals.totals.rate.sent == 4
    assert totals.totals.rate.answered == 4
    # 2 promoters, 1 detractor of 3: NPS 33.3.
    assert totals.totals.nps.score == pytest.approx(100 / 3)


def test_periods_and_survey_filters(workspace, answered):
    Response.objects.filter(nps_score=2).update(created_at=timezone.now() - dt.timedelta(days=40))
    since = timezone.now() - dt.timedelta(days=30)

    recent = selectors.metric_counts(
        workspace=workspace,
        filters=selectors.ResponseFilter(survey_id=answered["nps"].pk, since=since),
    )

    assert recent.totals.nps.n == 2
    assert recent.totals.nps.score == 100.0
    assert recent.totals.csat.n == 0
    assert recent.totals.csat.percent is None
