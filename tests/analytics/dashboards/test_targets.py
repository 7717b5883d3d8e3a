"""Metric owners and targets: the badge, the in-app alert and the weekly digest."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import pytest
from django.core import mail
from django.urls import reverse

from ascolto.analytics import targets
from ascolto.analytics.models import DigestSent, MetricAlert
from ascolto.analytics.tasks import send_weekly_digests
from ascolto.core.errors import ValidationFailed
from tests.accounts.factories import UserFactory
from tests.analytics.dashboards.conftest import PERIOD

# The judged week is the 7 whole days before "now": 2026-03-02..03-08 for a Monday 03-09.
MONDAY = dt.datetime(2026, 3, 9, 8, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def set_target(scenario, metric="frt_median", target=900.0, direction="lower", owner=None):
    return targets.target_set(
        workspace=scenario.workspace,
        metric=metric,
        owner=owner or scenario.agent1,
        target=target,
        direction=direction,
    )


def test_off_target_metric_alerts_its_owner_once(scenario):
    set_target(scenario)  # median FRT is 1200 s, target at most 900 s

    first = targets.targets_check(workspace=scenario.workspace, now=MONDAY)
    again = targets.targets_check(workspace=scenario.workspace, now=MONDAY)

    assert [(a.target.metric, a.value, a.owner_id) for a in first] == [
        ("frt_median", 1200.0, scenario.agent1.pk)
    ]
    assert again == []  # the unread alert is not repeated
    assert MetricAlert.objects.count() == 1


def test_on_target_metric_raises_nothing(scenario):
    set_target(scenario, target=1500.0)
    set_target(scenario, metric="conversations", target=2, direction="higher")

    assert targets.targets_check(workspace=scenario.workspace, now=MONDAY) == []


def test_dashboard_shows_badge_and_alert_and_dismissing_it(scenario, member_client):
    set_target(scenario)
    targets.targets_check(workspace=scenario.workspace, now=MONDAY)
    url = reverse("analytics:overview") + "?" + urlencode(PERIOD)

    html = member_client.get(url).content.decode()

    badge_at = html.index('data-testid="off-target"')
    assert html.rindex('data-metric="', 0, badge_at) == html.index('data-metric="frt_median"')
    assert html.count('data-testid="off-target"') == 1
    assert 'data-testid="metric-alert"' in html
    alert = MetricAlert.objects.get()
    member_client.post(reverse("analytics:alert_read", args=[alert.pk]))
    assert 'data-testid="metric-alert"' not in member_client.get(url).content.decode()
    # Read, and still off target: the next check alerts again.
    assert len(targets.targets_check(workspace=scenario.workspace, now=MONDAY)) == 1


def test_another_users_alert_cannot_be_dismissed(scenario, member_client):
    set_target(scenario, owner=scenario.agent2)
    alert = targets.targets_check(workspace=scenario.workspace, now=MONDAY)[0]

    response = member_client.post(reverse("analytics:alert_read", args=[alert.pk]))

    assert response.status_code == 404
    alert.refresh_from_db()
    assert alert.read_at is None


def test_weekly_digest_is_sent_once_per_week_per_owner(scenario):
    set_target(scenario)
    set_target(scenario, metric="conversations", target=2, direction="higher")
    set_target(scenario, metric="reopen_rate", target=10, direction="lower", owner=scenario.agent2)

    assert targets.weekly_digests_send(now=MONDAY) == 2
    assert targets.weekly_digests_send(now=MONDAY + dt.timedelta(hours=3)) == 0

    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [scenario.agent1.email, scenario.agent2.email]
    )
    mine = next(m for m in mail.outbox if m.to == [scenario.agent1.email])
    assert "1 of 2 off target" in mine.subject
    assert "First response time (median): 20.0 min" in mine.body
    assert DigestSent.objects.count() == 2
    next_week = MONDAY + dt.timedelta(days=7)
    assert targets.weekly_digests_send(now=next_week) == 2


def test_digest_task_holds_its_lock_and_sends(scenario):
    set_target(scenario)

    send_weekly_digests.call_local()

    assert len(mail.outbox) == 1


def test_digest_is_in_the_owners_language(scenario):
    scenario.agent1.locale = "it"
    scenario.agent1.save()
    set_target(scenario)

    targets.weekly_digests_send(now=MONDAY)

    assert "fuori obiettivo" in mail.outbox[0].subject


@pytest.mark.parametrize(
    ("metric", "direction", "field"),
    [("nope", "lower", "metric"), ("frt_median", "sideways", "direction")],
)
def test_bad_targets_are_refused(scenario, metric, direction, field):
    with pytest.raises(ValidationFailed) as caught:
        set_target(scenario, metric=metric, direction=direction)

    assert field in caught.value.field_errors


def test_owner_must_be_a_member(scenario):
    stranger = UserFactory()
    stranger.save()

    with pytest.raises(ValidationFailed):
        set_target(scenario, owner=stranger)


# --- API -------------------------------------------------------------------------------------


def test_admins_set_targets_through_the_api(scenario, make_token):
    from tests.accounts.factories import MembershipFactory
    from tests.api.conftest import ApiClient

    boss = UserFactory()
    MembershipFactory(workspace=scenario.workspace, user=boss, role="admin")
    api = ApiClient(make_token(boss, scenario.workspace))
    body = {"owner_id": scenario.agent1.pk, "target": 900, "direction": "lower"}

    response = api.put("analytics/targets/frt_median", body)

    assert response.status_code == 200
    assert response.json() == {
        "metric": "frt_median",
        "owner_id": scenario.agent1.pk,
        "target": 900.0,
        "direction": "lower",
    }
    assert [t["metric"] for t in api.get("analytics/targets").json()] == ["frt_median"]
    assert len(targets.targets_check(workspace=scenario.workspace, now=MONDAY)) == 1


def test_agents_cannot_set_targets_and_bad_ones_are_refused(scenario, make_token, other_workspace):
    from tests.accounts.factories import MembershipFactory
    from tests.api.conftest import ApiClient, assert_problem

    agent_api = ApiClient(make_token(scenario.agent1, scenario.workspace))
    body = {"owner_id": scenario.agent1.pk, "target": 900, "direction": "lower"}
    assert_problem(agent_api.put("analytics/targets/frt_median", body), 403)

    boss = UserFactory()
    MembershipFactory(workspace=scenario.workspace, user=boss, role="admin")
    api = ApiClient(make_token(boss, scenario.workspace))
    assert_problem(api.put("analytics/targets/nope", body), 422, "validation_failed")
    outsider = UserFactory()
    MembershipFactory(workspace=other_workspace, user=outsider)
    assert_problem(api.put("analytics/targets/frt_median", {**body, "owner_id": outsider.pk}), 422)
    assert api.get("analytics/targets").json() == []


def test_daily_check_task_alerts_off_target_owners(scenario):
    from ascolto.analytics.tasks import check_targets

    # Judged on the 7 days before now: the scenario's March conversations are long past.
    set_target(scenario, metric="conversations", target=1, direction="higher")

    assert check_targets.call_local() == 1
    assert check_targets.call_local() == 0
    assert MetricAlert.objects.get().value == 0
