"""Employee NPS: the definition against hand-computed cases, the pulses the periodic job opens,
answering (one per agent, anonymous, replaced until the pulse closes) and the thresholds that
keep results anonymous."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from ascolto.accounts.models import User
from ascolto.analytics.enps import selectors, services
from ascolto.analytics.enps.metric import MIN_ANSWERS, enps, enps_from_counts
from ascolto.analytics.enps.models import Pulse, PulseAnswer
from ascolto.analytics.tasks import open_enps_pulses
from ascolto.core.actors import Actor
from ascolto.core.errors import Conflict, Forbidden, ValidationFailed
from tests.accounts.factories import MembershipFactory, UserFactory
from tests.analytics.enps_support import agents, pulse

pytestmark = pytest.mark.django_db
UTC = dt.UTC

# --- the definition ----------------------------------------------------------------------------


def test_enps_is_promoter_share_minus_detractor_share() -> None:
    # 10, 9, 9, 10 promote; 8, 7 are passive; 6, 0, 3, 5 detract: 40% - 40% = 0.
    result = enps([10, 9, 9, 8, 7, 6, 0, 3, 10, 5], asked=20)

    assert (result.promoters, result.passives, result.detractors) == (4, 2, 4)
    assert result.score == 0.0
    assert result.response_rate == 50.0


def test_enps_hand_computed_positive_with_response_rate() -> None:
    # 3 promoters, 1 passive, 1 detractor of 5: 60% - 20% = 40; 5 answers of 8 asked = 62.5%.
    result = enps([10, 10, 9, 7, 2], asked=8)

    assert result.score == pytest.approx(40.0)
    assert result.response_rate == pytest.approx(62.5)


def test_no_answers_have_no_score_and_a_zero_response_rate() -> None:
    result = enps([], asked=4)

    assert result.score is None
    assert result.hidden
    assert result.response_rate == 0.0


def test_nobody_asked_has_no_response_rate() -> None:
    assert enps([], asked=0).response_rate is None


def test_below_the_threshold_the_score_is_hidden() -> None:
    result = enps([10, 10], asked=2)

    assert MIN_ANSWERS == 3
    assert result.score is None
    assert result.share(result.promoters) is None
    assert result.response_rate == 100.0


def test_at_the_threshold_the_score_shows_even_at_the_bottom() -> None:
    assert enps([0, 6, 2], asked=3).score == -100.0


def test_all_passives_score_zero() -> None:
    result = enps([7, 8, 7, 8], asked=4)

    assert result.score == 0.0
    assert result.share(result.passives) == 100.0


def test_answers_outside_the_scale_are_refused() -> None:
    with pytest.raises(ValueError, match="0 to 10"):
        enps([11], asked=1)
    with pytest.raises(ValueError, match="negative"):
        enps_from_counts(promoters=-1, passives=0, detractors=0, asked=1)


# --- opening pulses ----------------------------------------------------------------------------


def test_period_start_is_the_first_day_of_the_month_or_quarter() -> None:
    day = dt.date(2026, 8, 17)

    assert services.period_start(cadence="monthly", day=day) == dt.date(2026, 8, 1)
    assert services.period_start(cadence="quarterly", day=day) == dt.date(2026, 7, 1)
    assert services.period_start(cadence="quarterly", day=dt.date(2026, 12, 31)) == dt.date(
        2026, 10, 1
    )


def test_a_due_pulse_opens_once_per_period(workspace: Any) -> None:
    agents(workspace, 3)
    agents(workspace, 1, role="admin")
    now = dt.datetime(2026, 3, 5, 9, 0, tzinfo=UTC)

    opened = services.pulse_open_due(workspace=workspace, now=now)

    assert opened is not None
    assert opened.period_start == dt.date(2026, 3, 1)
    assert opened.asked == 3  # the agents, not the admin
    assert opened.closes_at == now + dt.timedelta(days=14)
    assert services.pulse_open_due(workspace=workspace, now=now) is None
    later = dt.datetime(2026, 3, 25, tzinfo=UTC)  # closed, same month: still none
    assert services.pulse_open_due(workspace=workspace, now=later) is None
    april = services.pulse_open_due(workspace=workspace, now=dt.datetime(2026, 4, 1, 8, tzinfo=UTC))
    assert april is not None
    assert april.period_start == dt.date(2026, 4, 1)


def test_the_period_is_the_workspace_s_local_month(workspace: Any) -> None:
    agents(workspace, 1)
    # 23:30 UTC on 31 March is already 1 April in Rome.
    opened = services.pulse_open_due(
        workspace=workspace, now=dt.datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
    )

    assert opened is not None
    assert opened.period_start == dt.date(2026, 4, 1)


def test_no_pulse_when_off_or_without_agents(workspace: Any, other_workspace: Any) -> None:
    agents(workspace, 2)
    agents(other_workspace, 1, role="admin")
    services.schedule_set(workspace=workspace, cadence="off", open_days=14, actor=Actor.system())
    now = dt.datetime(2026, 5, 2, tzinfo=UTC)

    assert services.pulse_open_due(workspace=workspace, now=now) is None
    assert services.pulse_open_due(workspace=other_workspace, now=now) is None


def test_quarterly_opens_once_a_quarter_and_a_switch_does_not_double_up(workspace: Any) -> None:
    agents(workspace, 2)
    may = services.pulse_open_due(workspace=workspace, now=dt.datetime(2026, 5, 2, tzinfo=UTC))
    services.schedule_set(
        workspace=workspace, cadence="quarterly", open_days=7, actor=Actor.system()
    )

    # Still inside May's pulse: nothing new, though the quarter (April) has no pulse.
    assert (
        services.pulse_open_due(workspace=workspace, now=dt.datetime(2026, 5, 9, tzinfo=UTC))
        is None
    )
    q3 = services.pulse_open_due(workspace=workspace, now=dt.datetime(2026, 7, 3, tzinfo=UTC))
    assert may is not None
    assert q3 is not None
    assert q3.period_start == dt.date(2026, 7, 1)
    assert q3.closes_at - q3.opens_at == dt.timedelta(days=7)
    assert (
        services.pulse_open_due(workspace=workspace, now=dt.datetime(2026, 8, 20, tzinfo=UTC))
        is None
    )


def test_the_database_refuses_a_second_pulse_for_a_period(workspace: Any) -> None:
    agents(workspace, 1)
    first = services.pulse_open_due(workspace=workspace, now=dt.datetime(2026, 6, 1, tzinfo=UTC))
    assert first is not None

    with pytest.raises(IntegrityError), transaction.atomic():
        Pulse.objects.create(
            workspace=workspace,
            period_start=first.period_start,
            cadence="monthly",
            opens_at=first.opens_at,
            closes_at=first.closes_at,
        )


def test_a_worker_that_loses_the_race_opens_nothing(
    workspace: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    agents(workspace, 1)
    now = dt.datetime(2026, 6, 3, tzinfo=UTC)
    winner = services.pulse_open_due(workspace=workspace, now=now)
    assert winner is not None
    # The loser read "no pulse yet" before the winner committed: only the constraint stops it.
    real_filter = Pulse.objects.filter
    monkeypatch.setattr(Pulse.objects, "filter", lambda **kw: real_filter(pk=-1))

    assert services.pulse_open_due(workspace=workspace, now=now) is None
    assert real_filter(workspace=workspace).count() == 1


def test_the_periodic_job_opens_each_workspace_s_pulse_once(
    workspace: Any, other_workspace: Any
) -> None:
    agents(workspace, 2)
    agents(other_workspace, 1)

    assert open_enps_pulses.call_local() == 2
    assert open_enps_pulses.call_local() == 0
    assert Pulse.objects.filter(workspace=workspace).count() == 1
    assert Pulse.objects.filter(workspace=other_workspace).count() == 1


def test_schedule_validation(workspace: Any) -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.schedule_set(
            workspace=workspace, cadence="weekly", open_days=40, actor=Actor.system()
        )

    assert set(exc.value.field_errors) == {"cadence", "open_days"}
    assert selectors.schedule_of(workspace=workspace).cadence == "monthly"


# --- answering ---------------------------------------------------------------------------------


@pytest.fixture
def open_pulse(workspace: Any) -> Pulse:
    return pulse(workspace, is_open=True, asked=5)


def _answer(p: Pulse, user: User, score: int, comment: str = "") -> tuple[PulseAnswer, bool]:
    return services.pulse_answer(
        pulse=p, user=user, score=score, comment=comment, now=timezone.now()
    )


def test_an_answer_is_stored_without_the_agent(workspace: Any, open_pulse: Pulse) -> None:
    (agent,) = agents(workspace, 1)

    answer, replaced = _answer(open_pulse, agent, 9, "  Good team  ")

    assert not replaced
    row = PulseAnswer.objects.values().get(pk=answer.pk)
    assert set(row) == {"id", "workspace_id", "pulse_id", "score", "comment", "respondent_hash"}
    assert row["comment"] == "Good team"
    assert str(agent.pk) != row["respondent_hash"]
    assert agent.username not in str(row.values())
    assert not any(
        f.is_relation and f.related_model is User for f in PulseAnswer._meta.get_fields()
    )


def test_a_second_answer_replaces_the_first(workspace: Any, open_pulse: Pulse) -> None:
    first_agent, second_agent = agents(workspace, 2)
    _answer(open_pulse, first_agent, 3, "meh")

    answer, replaced = _answer(open_pulse, first_agent, 10)
    _answer(open_pulse, second_agent, 10)

    assert replaced
    assert PulseAnswer.objects.filter(pulse=open_pulse).count() == 2
    answer.refresh_from_db()
    assert (answer.score, answer.comment) == (10, "")


def test_the_agent_is_no_longer_asked_after_answering(workspace: Any, open_pulse: Pulse) -> None:
    agent, colleague = agents(workspace, 2)
    now = timezone.now()
    assert selectors.pulse_to_ask(workspace=workspace, user=agent, now=now) == open_pulse

    _answer(open_pulse, agent, 8)

    assert selectors.pulse_to_ask(workspace=workspace, user=agent, now=now) is None
    assert selectors.pulse_to_ask(workspace=workspace, user=colleague, now=now) == open_pulse


def test_a_closed_pulse_refuses_answers(workspace: Any) -> None:
    (agent,) = agents(workspace, 1)
    closed = pulse(workspace, is_open=False)

    with pytest.raises(Conflict):
        _answer(closed, agent, 9)
    assert selectors.pulse_to_ask(workspace=workspace, user=agent, now=timezone.now()) is None


def test_only_the_agents_asked_may_answer(
    workspace: Any, other_workspace: Any, open_pulse: Pulse
) -> None:
    (admin,) = agents(workspace, 1, role="admin")
    (stranger,) = agents(other_workspace, 1)
    newcomer = UserFactory()
    MembershipFactory(workspace=workspace, user=newcomer, role="agent")  # joined after opening

    for user in (admin, stranger, newcomer):
        with pytest.raises(Forbidden):
            _answer(open_pulse, user, 9)
    assert not PulseAnswer.objects.exists()


def test_scores_outside_the_scale_and_long_comments_are_refused(
    workspace: Any, open_pulse: Pulse
) -> None:
    (agent,) = agents(workspace, 1)

    with pytest.raises(ValidationFailed) as exc:
        _answer(open_pulse, agent, 11, "x" * 1001)

    assert set(exc.value.field_errors) == {"score", "comment"}


def test_closing_forgets_who_answered(workspace: Any) -> None:
    agent, colleague = agents(workspace, 2)
    p = pulse(workspace, is_open=True)
    _answer(p, agent, 9)
    _answer(p, colleague, 4)
    assert services.pulses_forget_respondents(now=timezone.now()) == 0

    p.closes_at = timezone.now() - dt.timedelta(minutes=1)
    p.save()

    assert services.pulses_forget_respondents(now=timezone.now()) == 2
    assert list(PulseAnswer.objects.values_list("respondent_hash", flat=True)) == [None, None]


# --- results -----------------------------------------------------------------------------------


def test_results_hide_an_open_pulse_and_a_closed_one_under_three_answers(workspace: Any) -> None:
    pulse(workspace, months_ago=2, scores=(10, 9), comments=("names me",))
    pulse(workspace, months_ago=1, scores=(10, 9, 2, 7), comments=("b", "a"))
    pulse(workspace, is_open=True, scores=(10, 10, 10, 10))

    current, last, old = selectors.pulse_results(
        workspace=workspace, now=timezone.now(), with_comments=True
    )

    assert current.is_open
    assert current.score is None
    assert current.comments == []
    assert current.enps.response_rate == 40.0  # participation shows while open
    assert last.score == 25.0  # 2 promoters, 1 detractor of 4
    assert last.comments == ["a", "b"]  # in no particular order of time
    assert old.score is None
    assert old.comments == []
    assert [
        r.pulse for r in selectors.latest_closed(workspace=workspace, now=timezone.now(), count=1)
    ] == [last.pulse]


def test_results_are_scoped_by_workspace(workspace: Any, other_workspace: Any) -> None:
    theirs = pulse(other_workspace, scores=(10, 10, 10))

    assert selectors.pulse_results(workspace=workspace, now=timezone.now()) == []
    assert selectors.pulse_of(workspace=workspace, pk=theirs.pk) is None


def test_the_metric_figures_carry_the_latest_pulse_closed_by_the_period_s_end(
    workspace: Any,
) -> None:
    from ascolto.analytics.dashboards.filters import DashboardFilters, period_of
    from ascolto.analytics.dashboards.metrics import metric_values

    closed = pulse(workspace, months_ago=1, scores=(10, 9, 2, 7))  # 2 promoters, 1 detractor
    now = timezone.now()
    zone = dt.UTC
    today = now.date()
    last_week = DashboardFilters(period=period_of(today - dt.timedelta(days=6), today, zone))
    before_it_closed = DashboardFilters(
        period=period_of(
            closed.closes_at.date() - dt.timedelta(days=10),
            closed.closes_at.date() - dt.timedelta(days=3),
            zone,
        )
    )

    # What the targets check, the digest and GET /api/v1/analytics/metrics read.
    assert metric_values(workspace=workspace, filters=last_week, now=now)["enps"] == 25.0
    assert metric_values(workspace=workspace, filters=before_it_closed, now=now)["enps"] is None
