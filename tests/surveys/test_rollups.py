"""Daily rollups give the same figures as counting every response, for any period, breakdown
and filter, and keep doing so as answers change (refreshed incrementally)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from typing import Any

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ascolto.surveys import rollups, selectors
from ascolto.surveys.models import (
    DailyRollup,
    InterceptAnswer,
    Invitation,
    Response,
    RollupState,
)
from tests.accounts.factories import TeamFactory, UserFactory
from tests.customers.factories import CustomerFactory
from tests.surveys.factories import make_survey

DAYS = 12
UTC = dt.UTC


def _today_start() -> dt.datetime:
    return timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _fill(workspace: Any, seed: int, count: int = 160) -> dict[str, Any]:
    """Random sent invitations and responses over the last DAYS days (today included), with
    random scores, channels, agents, teams, tiers, languages and completion, and website
    intercept answers."""
    rng = random.Random(seed)
    surveys = [make_survey(workspace, kind) for kind in ("nps", "csat", "ces")]
    teams = [TeamFactory(workspace=workspace) for _ in range(2)]
    agents = [UserFactory() for _ in range(3)]
    tiers = ["gold", "silver", ""]
    customers = [
        CustomerFactory(workspace=workspace, value_tier=rng.choice(tiers)) for _ in range(20)
    ]
    start = _today_start() - dt.timedelta(days=DAYS - 1)
    now = timezone.now()
    for index in range(count):
        survey = rng.choice(surveys)
        customer = rng.choice(customers)
        sent_at = start + dt.timedelta(seconds=rng.randrange(int((now - start).total_seconds())))
        answered = rng.random() < 0.7
        answered_at = min(now, sent_at + dt.timedelta(hours=rng.randrange(0, 60)))
        invitation = Invitation.objects.create(
            workspace=workspace,
            survey=survey,
            customer=customer,
            channel=rng.choice(["email", "link", "sms"]),
            context_channel=rng.choice(["", "webchat", "whatsapp"]),
            status=rng.choice(["sent", "sent", "bounced"]),
            source_key=f"r{seed}-{index}",
            language=rng.choice(["en", "it", "he"]),
            send_after=sent_at,
            sent_at=sent_at,
            answered_at=answered_at if answered else None,
            opened_at=sent_at if answered or rng.random() < 0.4 else None,
            agent=rng.choice([*agents, None]),
            team=rng.choice([*teams, None]),
        )
        if not answered:
            continue
        kind = survey.kind
        Response.objects.create(
            workspace=workspace,
            survey=survey,
            invitation=invitation,
            customer=customer,
            created_at=answered_at,
            completed=rng.random() < 0.6,
            language=invitation.language,
            nps_score=rng.randrange(11) if kind == "nps" else None,
            csat_score=rng.randrange(1, 6) if kind == "csat" else None,
            ces_score=rng.randrange(1, 8) if kind == "ces" and rng.random() < 0.9 else None,
            touchpoint=rng.choice(["support", "delivery"]),
            channel=rng.choice(["email", "webchat", ""]),
            segment=customer.value_tier,
            agent=invitation.agent,
            team=invitation.team,
        )
    span = int((now - start).total_seconds())
    for index in range(count // 4):
        # Website intercept answers: anonymous, complete, the score in its kind's column.
        survey = rng.choice(surveys)
        score = {"nps": rng.randrange(11), "csat": rng.randrange(1, 6), "ces": rng.randrange(1, 8)}
        value = score[survey.kind]
        InterceptAnswer.objects.create(
            workspace=workspace,
            survey=survey,
            visitor=f"visitor-{seed}-{index}",
            period=index,
            score=value,
            language=rng.choice(["en", "it", "he"]),
            created_at=start + dt.timedelta(seconds=rng.randrange(span)),
            **{f"{survey.kind}_score": value},
        )
    # As if written a while ago: only what changes from now on is "changed since the scan".
    an_hour_ago = now - dt.timedelta(hours=1)
    Invitation.objects.filter(workspace=workspace).update(updated_at=an_hour_ago)
    Response.objects.filter(workspace=workspace).update(updated_at=an_hour_ago)
    InterceptAnswer.objects.filter(workspace=workspace).update(updated_at=an_hour_ago)
    return {"surveys": surveys, "start": start, "teams": teams, "agents": agents}


def _figures(workspace: Any, filters: selectors.ResponseFilter, by: str | None) -> Any:
    result = selectors.metric_counts(workspace=workspace, filters=filters, by=by)
    return result.totals, sorted(result.groups, key=lambda g: (g[0].key, g[1]))


def _direct(workspace: Any, filters: selectors.ResponseFilter, by: str | None) -> Any:
    """The same figures counted from every row: the rollup state set aside for the call."""
    state = RollupState.objects.get(workspace=workspace)
    covered = state.covered_until
    RollupState.objects.filter(pk=state.pk).update(covered_until=None)
    try:
        return _figures(workspace, filters, by)
    finally:
        RollupState.objects.filter(pk=state.pk).update(covered_until=covered)


hours = st.integers(min_value=-DAYS * 24 - 30, max_value=30)


@pytest.mark.parametrize("seed", [1, 2, 3])
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    since_hours=st.one_of(st.none(), hours),
    length_hours=st.one_of(st.none(), st.integers(min_value=1, max_value=DAYS * 24 + 60)),
    minutes=st.integers(min_value=0, max_value=59),
    by=st.sampled_from([None, *selectors.BREAKDOWNS]),
    pick_survey=st.booleans(),
    completed=st.sampled_from([None, True, False]),
)
def test_rollups_equal_the_direct_computation(
    workspace, seed, since_hours, length_hours, minutes, by, pick_survey, completed
):
    if not RollupState.objects.filter(workspace=workspace).exists():
        data = _fill(workspace, seed)
        rollups.rollups_refresh(workspace=workspace)
        workspace._rollup_test_data = data  # the same data for every example of this seed
    data = workspace._rollup_test_data
    today = _today_start()
    since = None
    if since_hours is not None:
        since = today + dt.timedelta(hours=since_hours, minutes=minutes)
    until = None
    if length_hours is not None:
        until = (since or data["start"]) + dt.timedelta(hours=length_hours)
    filters = selectors.ResponseFilter(
        since=since,
        until=until,
        survey_id=data["surveys"][seed % 3].pk if pick_survey else None,
        completed=completed,
    )

    assert _figures(workspace, filters, by) == _direct(workspace, filters, by)


@pytest.fixture
def rolled_up(workspace):
    data = _fill(workspace, seed=7, count=120)
    days = rollups.rollups_refresh(workspace=workspace)
    return data, days


def test_a_refresh_covers_every_past_day_and_leaves_today_to_direct_counts(workspace, rolled_up):
    data, days = rolled_up
    state = RollupState.objects.get(workspace=workspace)

    assert state.covered_until == _today_start().date()
    assert 0 < days <= DAYS - 1
    assert not DailyRollup.objects.filter(workspace=workspace, day__gte=state.covered_until)
    plan = rollups.plan(workspace=workspace, since=data["start"], until=None)
    assert plan is not None
    assert plan.first_day == data["start"].date()
    assert plan.edges == [(_today_start(), None)]


def test_changed_and_late_answers_are_rolled_up_on_the_next_refresh(workspace, rolled_up):
    data, _ = rolled_up
    year = selectors.ResponseFilter(since=data["start"] - dt.timedelta(days=300))
    before = _figures(workspace, year, "agent")
    # An answer of four days ago is corrected, and a new one arrives dated three days ago.
    changed = Response.objects.filter(
        workspace=workspace,
        nps_score__isnull=False,
        created_at__lt=_today_start() - dt.timedelta(days=3),
    ).first()
    assert changed is not None
    changed.nps_score = 0 if (changed.nps_score or 0) > 6 else 10
    changed.save()
    late = Invitation.objects.filter(workspace=workspace, response__isnull=True).first()
    assert late is not None
    Response.objects.create(
        workspace=workspace,
        survey=late.survey,
        invitation=late,
        customer=late.customer,
        created_at=_today_start() - dt.timedelta(days=3, hours=-5),
        nps_score=10,
        touchpoint="support",
    )

    stale = _figures(workspace, year, "agent")
    assert stale == before  # not yet refreshed: rollups still hold the old days
    recomputed = rollups.rollups_refresh(workspace=workspace)

    assert recomputed == 2
    assert _figures(workspace, year, "agent") == _direct(workspace, year, "agent")
    assert _figures(workspace, year, "agent") != before


def test_website_answers_are_in_the_rolled_up_figures_under_the_website_channel(
    workspace, rolled_up
):
    data, _ = rolled_up
    year = selectors.ResponseFilter(since=data["start"] - dt.timedelta(days=300))
    nps = data["surveys"][0]
    before = selectors.metric_counts(workspace=workspace, filters=year, by="channel")
    website = {g.key: g for g, _label in before.groups}["website"]
    assert website.responses == InterceptAnswer.objects.filter(workspace=workspace).count()
    assert dict((g.key, label) for g, label in before.groups)["website"] == "Website"
    # A promoter answers on the website, dated two days ago (a rolled-up day).
    InterceptAnswer.objects.create(
        workspace=workspace,
        survey=nps,
        visitor="late-visitor",
        period=99_999,
        score=10,
        nps_score=10,
        created_at=_today_start() - dt.timedelta(days=2, hours=-9),
    )
    rollups.rollups_refresh(workspace=workspace)

    after = selectors.metric_counts(workspace=workspace, filters=year, by="channel")
    website_after = {g.key: g for g, _label in after.groups}["website"]
    assert website_after.responses == website.responses + 1
    assert website_after.nps.promoters == website.nps.promoters + 1
    assert _figures(workspace, year, "channel") == _direct(workspace, year, "channel")
    unfinished = dataclasses.replace(year, completed=False)
    assert "website" not in {
        g.key
        for g, _ in selectors.metric_counts(
            workspace=workspace, filters=unfinished, by="channel"
        ).groups
    }


def test_a_customer_filter_or_a_period_inside_one_day_is_counted_directly(workspace, rolled_up):
    data, _ = rolled_up
    noon = _today_start() - dt.timedelta(days=2, hours=-12)

    assert rollups.plan(workspace=workspace, since=noon, until=noon + dt.timedelta(hours=3)) is None
    assert rollups.plan(workspace=workspace, since=data["start"], until=None, customer_id=1) is None


def test_rollups_are_per_workspace(workspace, other_workspace, rolled_up):
    _fill(other_workspace, seed=8, count=40)
    rollups.rollups_refresh(workspace=other_workspace)
    year = selectors.ResponseFilter(since=_today_start() - dt.timedelta(days=300))

    mine = selectors.metric_counts(workspace=workspace, filters=year)
    assert (
        mine.totals.responses
        == Response.objects.filter(workspace=workspace).count()
        + InterceptAnswer.objects.filter(workspace=workspace).count()
    )
    assert _figures(workspace, year, None) == _direct(workspace, year, None)


def test_the_rollups_command_refreshes_every_workspace_or_one(workspace, other_workspace):
    from click.testing import CliRunner

    from ascolto.surveys.cli import surveys

    _fill(workspace, seed=9, count=30)
    runner = CliRunner()

    one = runner.invoke(surveys, ["rollups", "--workspace", workspace.slug])
    assert one.exit_code == 0, one.output
    assert f"{workspace.slug}: " in one.output
    assert RollupState.objects.filter(workspace=workspace).exists()
    assert not RollupState.objects.filter(workspace=other_workspace).exists()

    unknown = runner.invoke(surveys, ["rollups", "--workspace", "no-such-place"])
    assert unknown.exit_code != 0
    assert "No workspace with the slug 'no-such-place'" in unknown.output

    full = runner.invoke(surveys, ["rollups", "--full"])
    assert full.exit_code == 0, full.output
    assert RollupState.objects.filter(workspace=other_workspace).exists()
