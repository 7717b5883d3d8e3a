"""Campaigns: who they reach, hold-outs, guards shared with rules, and sending exactly once
through pauses, resumes, re-runs and the job."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ascolto.core.actors import Actor
from ascolto.core.errors import Conflict
from ascolto.core.models import Job
from ascolto.customers.models import Consent
from ascolto.engagement import campaigns, guards, holdout, services
from ascolto.engagement.models import Campaign, CampaignRecipient, Event, Send
from ascolto.inbox.models import Message
from tests.api.conftest import assert_problem
from tests.customers.factories import CustomerFactory
from tests.engagement.conftest import SYSTEM

pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)  # 13:00 in Rome: outside quiet hours
NIGHT = dt.datetime(2026, 3, 10, 23, 0, tzinfo=dt.UTC)  # midnight in Rome: quiet


def person(workspace: Any, *, marketing: bool | None = True, **fields: Any) -> Any:
    values: dict[str, Any] = {
        "locale": "en",
        "timezone": "Europe/Rome",
        "value_tier": "gold",
        "attributes": {"preferred_channel": "api"},
    }
    values.update(fields)
    customer = CustomerFactory(workspace=workspace, **values)
    if marketing is not None:
        Consent.objects.create(
            workspace=workspace,
            customer=customer,
            purpose="marketing",
            channel="any",
            granted=marketing,
        )
    return customer


@pytest.fixture
def promo_template(workspace: Any) -> None:
    services.template_upsert(
        workspace=workspace,
        actor=SYSTEM,
        key="spring-promo",
        language="en",
        subject="Spring",
        body="Hi {{ first_name }}, spring sale today.",
    )
    services.template_upsert(
        workspace=workspace,
        actor=SYSTEM,
        key="spring-promo",
        language="it",
        body="Ciao {{ first_name }}, saldi di primavera oggi.",
    )


def make_campaign(workspace: Any, admin_user: Any, **overrides: Any) -> Campaign:
    values: dict[str, Any] = {
        "name": "Spring sale",
        "template_key": "spring-promo",
        "audience": {"field": "customer.value_tier", "op": "in", "value": ["gold", "platinum"]},
    }
    values.update(overrides)
    return campaigns.campaign_create(
        workspace=workspace, actor=Actor.for_user(admin_user), **values
    )


def start(campaign: Campaign, admin_user: Any) -> Campaign:
    campaigns.campaign_start(campaign=campaign, actor=Actor.for_user(admin_user))
    campaign.refresh_from_db()
    return campaign


def run(campaign: Campaign, **kwargs: Any) -> campaigns.RunOutcome:
    kwargs.setdefault("now", NOON)
    return campaigns.campaign_run(campaign_id=campaign.pk, actor=SYSTEM, **kwargs)


def messages_to(customer: Any) -> int:
    return Message.objects.filter(conversation__customer=customer, kind="bot").count()


@pytest.fixture
def ready(workspace: Any, inbox: Any, promo_template: None) -> None:
    """An API inbox, the template, and the workspace's default guard rails."""


def test_audience_selects_by_tier_and_consent_and_preview_counts(
    workspace: Any, ready: None, admin_api: Any
) -> None:
    gold = person(workspace, name="Ada Gold")
    person(workspace, value_tier="silver")
    person(workspace, marketing=False)
    audience = {
        "all": [
            {"field": "customer.value_tier", "op": "eq", "value": "gold"},
            {"field": "consent.marketing", "op": "eq", "value": True},
        ]
    }
    response = admin_api.post("engagement/campaigns/audience-preview", {"audience": audience})
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 1
    assert [c["id"] for c in response.json()["sample"]] == [gold.pk]


def test_campaign_sends_to_its_audience_once_and_completes(
    workspace: Any, ready: None, admin_user: Any
) -> None:
    chosen = [person(workspace, name=f"Gold {i}") for i in range(3)]
    other = person(workspace, value_tier="bronze")
    campaign = start(make_campaign(workspace, admin_user), admin_user)

    outcome = run(campaign)

    assert outcome.state == "completed"
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    assert (campaign.targeted_count, campaign.sent_count) == (3, 3)
    assert [messages_to(c) for c in chosen] == [1, 1, 1]
    assert messages_to(other) == 0
    text = Message.objects.filter(conversation__customer=chosen[0], kind="bot").get().text
    assert text == f"Hi {chosen[0].name.split()[0]}, spring sale today."


def test_hold_out_is_deterministic_and_gets_nothing(
    workspace: Any, ready: None, admin_user: Any
) -> None:
    people = [person(workspace) for _ in range(40)]
    campaign = start(make_campaign(workspace, admin_user, holdout_percent=50), admin_user)
    expected = {
        c.pk
        for c in people
        if holdout.is_held_out(kind="campaign", owner_id=campaign.pk, customer_id=c.pk, percent=50)
    }
    assert 0 < len(expected) < 40

    run(campaign)
    run(campaign)

    held = set(
        campaign.recipients.filter(status=CampaignRecipient.Status.HELD_OUT).values_list(
            "customer_id", flat=True
        )
    )
    assert held == expected
    assert all(messages_to(c) == (0 if c.pk in held else 1) for c in people)


def test_hold_out_share_is_close_to_the_percent() -> None:
    held = sum(
        holdout.is_held_out(kind="rule", owner_id=7, customer_id=i, percent=10)
        for i in range(1, 10_001)
    )
    assert 800 < held < 1200
    assert holdout.is_held_out(kind="rule", owner_id=7, customer_id=5, percent=0) is False


def _rule_sent(workspace: Any, customer: Any, delayed_rule: Any, at: dt.datetime) -> None:
    event = Event.objects.create(
        workspace=workspace,
        external_id=f"e-{customer.pk}",
        type="order.delayed",
        customer=customer,
        occurred_at=at,
    )
    Send.objects.create(
        workspace=workspace,
        rule=delayed_rule,
        event=event,
        customer=customer,
        status=Send.Status.SENT,
        sent_at=at,
    )


def test_frequency_cap_counts_rules_and_campaigns_together(
    workspace: Any, ready: None, admin_user: Any, delayed_rule: Any
) -> None:
    config = guards.settings_for(workspace.pk)
    config.cap_count, config.cap_window_hours = 1, 24
    config.save()
    messaged_by_rule = person(workspace)
    fresh = person(workspace)
    _rule_sent(workspace, messaged_by_rule, delayed_rule, NOON - dt.timedelta(hours=1))

    first = start(make_campaign(workspace, admin_user), admin_user)
    run(first)
    second = start(make_campaign(workspace, admin_user, name="Second"), admin_user)
    run(second)

    skipped = first.recipients.get(customer=messaged_by_rule)
    assert (skipped.status, skipped.reason) == ("skipped", "Frequency cap reached.")
    assert first.recipients.get(customer=fresh).status == "sent"
    assert second.recipients.get(customer=fresh).reason == "Frequency cap reached."
    assert messages_to(messaged_by_rule) == 0
    assert messages_to(fresh) == 1
    # and the rules see the campaign's message too
    assert guards.over_cap(customer=fresh, config=config, at=NOON)


def test_no_double_send_when_the_job_or_a_batch_runs_again(
    workspace: Any, ready: None, admin_user: Any
) -> None:
    people = [person(workspace) for _ in range(5)]
    campaign = start(make_campaign(workspace, admin_user), admin_user)
    assert run(campaign, batch_size=2, max_batches=1).processed == 2  # a worker that stopped

    run(campaign, batch_size=2)
    run(campaign, batch_size=2)
    state = campaigns.RunState(
        campaign=campaign, now=NOON, config=guards.settings_for(workspace.pk)
    )
    again = [
        campaigns.recipient_send(recipient=r, state=state, actor=SYSTEM)
        for r in campaign.recipients.select_related("customer")
    ]

    assert again == ["taken"] * 5
    assert [messages_to(c) for c in people] == [1] * 5
    assert campaign.recipients.filter(status="sent").count() == 5


def test_pause_stops_before_the_next_batch_and_resume_continues(
    workspace: Any, ready: None, admin_user: Any
) -> None:
    people = [person(workspace) for _ in range(6)]
    actor = Actor.for_user(admin_user)
    campaign = start(make_campaign(workspace, admin_user), admin_user)
    run(campaign, batch_size=2, max_batches=1)
    campaigns.campaign_pause(campaign=campaign, actor=actor)

    assert run(campaign, batch_size=2).state == "stopped"
    assert sum(messages_to(c) for c in people) == 2
    with pytest.raises(Conflict):
        campaigns.campaign_pause(campaign=campaign, actor=actor)

    campaigns.campaign_resume(campaign=campaign, actor=actor)
    assert run(campaign, batch_size=2).state == "completed"
    assert [messages_to(c) for c in people] == [1] * 6


def test_cancel_skips_the_pending_and_cannot_restart(
    workspace: Any, ready: None, admin_user: Any
) -> None:
    people = [person(workspace) for _ in range(3)]
    actor = Actor.for_user(admin_user)
    campaign = start(make_campaign(workspace, admin_user), admin_user)
    run(campaign, batch_size=1, max_batches=1)
    campaigns.campaign_cancel(campaign=campaign, actor=actor)

    assert run(campaign).state == "stopped"
    campaign.refresh_from_db()
    assert (campaign.status, campaign.sent_count, campaign.skipped_count) == ("cancelled", 1, 2)
    assert sum(messages_to(c) for c in people) == 1
    with pytest.raises(Conflict):
        campaigns.campaign_start(campaign=campaign, actor=actor)


def test_consent_is_required_for_marketing_but_not_for_service(
    workspace: Any, ready: None, admin_user: Any
) -> None:
    no_grant = person(workspace, marketing=None)
    revoked = person(workspace, marketing=False)
    marketing = start(make_campaign(workspace, admin_user), admin_user)
    run(marketing)
    reasons = set(marketing.recipients.values_list("reason", flat=True))
    assert reasons == {"No marketing consent on api."}

    service = start(make_campaign(workspace, admin_user, purpose="service"), admin_user)
    run(service)
    assert messages_to(no_grant) == 1
    assert messages_to(revoked) == 1


def test_quiet_hours_defer_to_their_end_then_send(
    workspace: Any, ready: None, admin_user: Any
) -> None:
    customer = person(workspace)
    campaign = start(make_campaign(workspace, admin_user), admin_user)

    outcome = run(campaign, now=NIGHT)

    morning = dt.datetime(2026, 3, 11, 7, 0, tzinfo=dt.UTC)  # 08:00 in Rome
    assert (outcome.state, outcome.retry_at) == ("waiting", morning)
    recipient = campaign.recipients.get()
    assert (recipient.status, recipient.scheduled_for) == ("pending", morning)
    assert messages_to(customer) == 0

    assert run(campaign, now=morning + dt.timedelta(minutes=1)).state == "completed"
    assert messages_to(customer) == 1


def test_throttle_limits_each_channel_per_minute(
    workspace: Any, ready: None, admin_user: Any
) -> None:
    people = [person(workspace) for _ in range(5)]
    campaign = start(make_campaign(workspace, admin_user, throttle_per_minute=2), admin_user)

    outcome = run(campaign)
    assert outcome.state == "waiting"
    assert outcome.retry_at is not None
    assert outcome.retry_at > NOON
    assert sum(messages_to(c) for c in people) == 2
    run(campaign, now=NOON + dt.timedelta(seconds=30))
    assert sum(messages_to(c) for c in people) == 2

    run(campaign, now=NOON + dt.timedelta(seconds=61))
    run(campaign, now=NOON + dt.timedelta(seconds=122))
    assert [messages_to(c) for c in people] == [1] * 5


def test_the_api_runs_a_campaign_through_its_job(
    workspace: Any,
    ready: None,
    admin_api: Any,
    no_quiet_hours: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    people = [person(workspace) for _ in range(3)]
    response = admin_api.post(
        "engagement/campaigns",
        {"name": "Spring", "template_key": "spring-promo", "holdout_percent": 0},
    )
    assert response.status_code == 201, response.content
    campaign_id = response.json()["id"]
    assert response.json()["status"] == "draft"

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(f"engagement/campaigns/{campaign_id}/start", {})
    assert response.status_code == 200, response.content

    body = admin_api.get(f"engagement/campaigns/{campaign_id}").json()
    assert (body["status"], body["sent_count"], body["percent"]) == ("completed", 3, 100)
    job = Job.objects.get(pk=body["job_id"])
    assert job.status == Job.Status.SUCCEEDED
    assert job.result["sent"] == 3
    assert [messages_to(c) for c in people] == [1, 1, 1]
    listed = admin_api.get("engagement/campaigns").json()
    assert [c["id"] for c in listed] == [campaign_id]


def test_api_errors(
    workspace: Any, ready: None, admin_api: Any, api: Any, other_api: Any, admin_user: Any
) -> None:
    assert_problem(admin_api.get("engagement/campaigns/999999"), 404)
    invalid = admin_api.post(
        "engagement/campaigns",
        {
            "name": "Bad",
            "template_key": "spring-promo",
            "audience": {"field": "customer.value_tier", "op": "bigger", "value": 1},
        },
    )
    body = assert_problem(invalid, 422)
    assert "audience.op" in str(body)
    unknown_template = admin_api.post(
        "engagement/campaigns", {"name": "Bad", "template_key": "nope"}
    )
    assert "template_key" in str(assert_problem(unknown_template, 422))
    assert Campaign.objects.count() == 0

    campaign = make_campaign(workspace, admin_user)
    assert_problem(api.post(f"engagement/campaigns/{campaign.pk}/start", {}), 403)
    assert_problem(other_api.get(f"engagement/campaigns/{campaign.pk}"), 404)
    assert admin_api.post(f"engagement/campaigns/{campaign.pk}/start", {}).status_code == 200
    assert_problem(admin_api.post(f"engagement/campaigns/{campaign.pk}/start", {}), 409)
    assert_problem(admin_api.post(f"engagement/campaigns/{campaign.pk}/resume"), 409)


def test_a_campaign_started_later_waits_for_its_time(
    workspace: Any, ready: None, admin_user: Any
) -> None:
    person(workspace)
    campaign = make_campaign(workspace, admin_user)
    # Tomorrow at 10:00 UTC: in the future whenever the test runs, and outside the quiet hours
    # of the customer's Rome evening, so only the start time decides.
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    later = dt.datetime.combine(tomorrow, dt.time(10, 0), tzinfo=dt.UTC)
    campaigns.campaign_start(campaign=campaign, actor=Actor.for_user(admin_user), at=later)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED

    assert run(campaign, now=later - dt.timedelta(minutes=1)).state == "waiting"
    assert run(campaign, now=later + dt.timedelta(minutes=1)).state == "completed"
    campaign.refresh_from_db()
    assert campaign.sent_count == 1
