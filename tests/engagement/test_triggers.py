"""Triggers Ascolto fires itself: schedules once per period (however often the job runs, and
after a restart), birthdays and renewals in the customer's time zone, resolved conversations
and survey answers; their validation and dry runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from ascolto.core.actors import Actor
from ascolto.core.errors import ValidationFailed
from ascolto.core.models import OutboxEvent
from ascolto.engagement import guards, handlers, services, trigger_config, triggers
from ascolto.engagement.models import Event, Rule, Send, TriggerRun
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Conversation, Message
from ascolto.surveys import services as survey_services
from tests.customers.factories import CustomerFactory
from tests.engagement.conftest import SYSTEM
from tests.surveys.factories import (
    consenting_customer,
    dispatch_pending,
    make_survey,
    sent_invitation,
)

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def open_guards(workspace: Any, no_quiet_hours: None) -> None:
    config = guards.settings_for(workspace.pk)
    config.cap_count = 100
    config.save()


@pytest.fixture
def hello_template(workspace: Any) -> None:
    services.template_upsert(
        workspace=workspace, actor=SYSTEM, key="hello", language="en", body="Hi {{ first_name }}"
    )


def make_rule(workspace: Any, owner: Any, trigger: str, config: dict[str, Any], **kw: Any) -> Rule:
    rule = services.rule_create(
        workspace=workspace,
        actor=Actor.for_user(owner),
        name=kw.pop("name", f"{trigger} rule"),
        trigger=trigger,
        trigger_settings=config,
        actions=kw.pop("actions", [{"type": "send_message", "template": "hello"}]),
        **kw,
    )
    # As if saved long before the runs below, so no period is "before the rule existed".
    Rule.objects.filter(pk=rule.pk).update(created_at=at("2026-01-01T00:00:00"))
    return Rule.objects.select_related("workspace", "owner").get(pk=rule.pk)


def reachable(workspace: Any, **fields: Any) -> Any:
    fields.setdefault("attributes", {})
    fields["attributes"].setdefault("preferred_channel", "api")
    return CustomerFactory(workspace=workspace, locale="en", **fields)


def test_a_schedule_rule_fires_once_per_period_whatever_the_job_does(
    workspace: Any, admin_user: Any, inbox: Any, hello_template: None, open_guards: None
) -> None:
    workspace.timezone = "Europe/Rome"
    workspace.save()
    long_ago = timezone.now() - dt.timedelta(days=90)
    lapsed = reachable(
        workspace, name="Lapsed Lia", attributes={"churn_risk": "high"}, last_order_at=long_ago
    )
    reachable(workspace, name="Loyal Leo", attributes={"churn_risk": "low"}, last_order_at=long_ago)
    rule = make_rule(
        workspace,
        admin_user,
        "schedule",
        {"every": "day", "at": "09:00"},
        name="Win back",
        conditions={
            "all": [
                {"field": "customer.attributes.churn_risk", "op": "eq", "value": "high"},
                {"field": "customer.days_since_last_order", "op": "gte", "value": 60},
            ]
        },
    )

    # 07:30 UTC is 08:30 in Rome: the 9th's run is not due yet; the 8th's, missed, is caught up.
    assert triggers.schedule_run(rule=rule, actor=SYSTEM, now=at("2026-03-09T07:30:00")) == 1
    assert TriggerRun.objects.get(rule=rule).period == "2026-03-08"
    # Two workers, or the job every minute: the 9th runs once.
    for minute in ("08:00", "08:01", "08:30"):
        triggers.due_rules_run(actor=SYSTEM, now=at(f"2026-03-09T{minute}:00"))
    sends = Send.objects.filter(rule=rule)
    assert sorted(sends.values_list("event__external_id", flat=True)) == [
        f"schedule:{rule.pk}:{lapsed.pk}:2026-03-08",
        f"schedule:{rule.pk}:{lapsed.pk}:2026-03-09",
    ]
    assert all(send.status == Send.Status.SENT for send in sends)
    assert Message.objects.filter(conversation__customer=lapsed).count() == 2

    # A restart cut the 9th's run short: it resumes and sends nothing twice.
    TriggerRun.objects.filter(rule=rule, period="2026-03-09").update(finished_at=None)
    assert triggers.schedule_run(rule=rule, actor=SYSTEM, now=at("2026-03-09T09:00:00")) == 0
    assert TriggerRun.objects.get(rule=rule, period="2026-03-09").finished_at is not None

    # Down from the 9th to the morning of the 13th: the 12th is caught up once, then the 13th.
    for when in ("2026-03-13T07:00:00", "2026-03-13T07:05:00", "2026-03-13T08:00:00"):
        triggers.due_rules_run(actor=SYSTEM, now=at(when))
    assert sorted(TriggerRun.objects.filter(rule=rule).values_list("period", flat=True)) == [
        "2026-03-08",
        "2026-03-09",
        "2026-03-12",
        "2026-03-13",
    ]
    assert Send.objects.filter(rule=rule).count() == 4
    assert Event.objects.filter(type="schedule", source="internal").count() == 4


def test_weekly_periods_and_settings_are_checked() -> None:
    rome = trigger_config.workspace_zone("Europe/Rome")
    weekly = {"every": "week", "weekday": "monday", "at": "10:00"}
    # Wednesday 11 March 2026: the latest Monday 10:00 is the 9th, ISO week 11.
    assert trigger_config.latest_period(weekly, rome, at("2026-03-11T12:00:00")) == (
        "2026-W11",
        at("2026-03-09T09:00:00"),
    )
    # Monday the 9th at 09:30 Rome: not yet, so the week before.
    assert trigger_config.latest_period(weekly, rome, at("2026-03-09T08:30:00"))[0] == "2026-W10"

    cases = [
        ("schedule", {"every": "week", "at": "10:00"}, "trigger_config.weekday"),
        ("schedule", {"every": "day", "at": "25:00"}, "trigger_config.at"),
        ("schedule", {"every": "hour"}, "trigger_config.every"),
        ("date", {"attribute": "renewal date"}, "trigger_config.attribute"),
        ("date", {"attribute": "birthday", "offset_days": "soon"}, "trigger_config.offset_days"),
        ("date", {"attribute": "birthday", "yearly": False}, "trigger_config.yearly"),
        ("order.delayed", {"every": "day"}, "trigger_config"),
    ]
    for trigger, config, path in cases:
        with pytest.raises(ValidationFailed) as caught:
            trigger_config.validate_trigger_config(trigger, config)
        assert path in caught.value.field_errors, (trigger, config)


def test_a_birthday_starts_in_tel_aviv_before_it_starts_in_utc(
    workspace: Any, admin_user: Any, inbox: Any, hello_template: None, open_guards: None
) -> None:
    tel_aviv = reachable(
        workspace, name="Noa", timezone="Asia/Jerusalem", birthday=dt.date(1990, 3, 10)
    )
    london = reachable(
        workspace, name="Liam", timezone="Europe/London", birthday=dt.date(1985, 3, 10)
    )
    reachable(workspace, name="Ada", timezone="Asia/Jerusalem", birthday=dt.date(1990, 3, 9))
    leap = reachable(workspace, name="Lea", timezone="Europe/London", birthday=dt.date(2000, 2, 29))
    rule = make_rule(workspace, admin_user, "date", {"attribute": "birthday", "at": "00:00"})

    # 22:30 UTC on the 9th is 00:30 on the 10th in Tel Aviv (UTC+2), still the 9th in London.
    for _ in range(2):
        triggers.due_rules_run(actor=SYSTEM, now=at("2026-03-09T22:30:00"))
    assert list(Send.objects.filter(rule=rule).values_list("customer_id", flat=True)) == [
        tel_aviv.pk
    ]
    event = Send.objects.get(rule=rule).event
    assert event.external_id == f"date:birthday:{rule.pk}:{tel_aviv.pk}:2026-03-10"
    assert event.source == "internal"

    triggers.due_rules_run(actor=SYSTEM, now=at("2026-03-10T00:30:00"))
    assert sorted(Send.objects.filter(rule=rule).values_list("customer_id", flat=True)) == sorted(
        [tel_aviv.pk, london.pk]
    )
    # 29 February is celebrated on the 28th in other years.
    triggers.due_rules_run(actor=SYSTEM, now=at("2026-02-28T10:00:00"))
    assert Send.objects.filter(rule=rule, customer=leap).count() == 1


def test_a_renewal_reminder_goes_n_days_before_from_the_rules_hour(
    workspace: Any, admin_user: Any, inbox: Any, hello_template: None, open_guards: None
) -> None:
    due = reachable(
        workspace, name="Rita", timezone="Europe/Rome", attributes={"renewal_date": "2026-03-17"}
    )
    reachable(
        workspace, name="Remo", timezone="Europe/Rome", attributes={"renewal_date": "2026-03-18"}
    )
    rule = make_rule(
        workspace,
        admin_user,
        "date",
        {"attribute": "renewal_date", "offset_days": -7, "at": "09:00"},
    )
    # 07:30 UTC is 08:30 in Rome: before the rule's hour.
    assert triggers.date_run(rule=rule, actor=SYSTEM, now=at("2026-03-10T07:30:00")) == 0
    assert triggers.date_run(rule=rule, actor=SYSTEM, now=at("2026-03-10T08:30:00")) == 1
    assert triggers.date_run(rule=rule, actor=SYSTEM, now=at("2026-03-10T15:00:00")) == 0
    send = Send.objects.get(rule=rule)
    assert send.customer_id == due.pk
    assert send.event.payload == {"date": "2026-03-10", "attribute": "renewal_date"}


def test_a_signup_anniversary_comes_every_year_but_not_on_the_day_itself(
    workspace: Any, admin_user: Any, inbox: Any, hello_template: None, open_guards: None
) -> None:
    veteran = reachable(
        workspace, name="Vera", timezone="Europe/Rome", attributes={"signup_date": "2024-03-10"}
    )
    reachable(
        workspace, name="Nico", timezone="Europe/Rome", attributes={"signup_date": "2026-03-10"}
    )
    rule = make_rule(
        workspace, admin_user, "date", {"attribute": "signup_date", "yearly": True, "at": "10:00"}
    )
    assert triggers.date_run(rule=rule, actor=SYSTEM, now=at("2026-03-10T09:30:00")) == 1
    assert Send.objects.get(rule=rule).customer_id == veteran.pk


def test_a_resolved_conversation_fires_its_rules_once_per_resolution(
    workspace: Any, admin_user: Any, inbox: Any, customer: Any, open_guards: None
) -> None:
    services.template_upsert(
        workspace=workspace,
        actor=SYSTEM,
        key="resolved",
        language="en",
        body="Glad we could help, {{ first_name }}.",
    )
    rule = make_rule(
        workspace,
        admin_user,
        "conversation.resolved",
        {},
        actions=[{"type": "send_message", "template": "resolved"}],
        conditions={"field": "event.payload.channel", "op": "eq", "value": "api"},
    )
    conversation = inbox_services.message_receive(
        inbox=inbox, customer=customer, text="Where is my parcel?", provider_id="m-1"
    ).conversation
    inbox_services.conversation_set_status(
        conversation=conversation, status="resolved", actor=Actor.for_user(admin_user)
    )
    dispatch_pending()

    send = Send.objects.get(rule=rule)
    assert send.status == Send.Status.SENT
    assert send.event.type == "conversation.resolved"
    assert send.event.payload["conversation_id"] == conversation.pk
    assert Message.objects.get(pk=send.message_id).text == "Glad we could help, Dana."

    # The outbox delivers at least once: a second delivery changes nothing.
    resolved = OutboxEvent.objects.get(name="inbox.conversation.resolved")
    handlers.conversation_resolved(resolved)
    assert Send.objects.filter(rule=rule).count() == 1


def test_new_conversations_of_a_batch_fire_their_rules_once_each_and_follow_ups_none(
    workspace: Any,
    other_workspace: Any,
    admin_user: Any,
    inbox: Any,
    open_guards: None,
    hello_template: None,
) -> None:
    from ascolto.connectors.api_channel import services as api_channel_services
    from ascolto.core import outbox

    rule = make_rule(workspace, admin_user, "conversation.created", {})
    elsewhere, _ = api_channel_services.api_inbox_create(
        workspace=other_workspace, name="Other", actor=SYSTEM
    )
    people = [reachable(workspace, name=f"Dana {n}") for n in range(3)]
    started = [
        inbox_services.message_receive(inbox=inbox, customer=person, text="Hello").conversation
        for person in people
    ]
    inbox_services.message_receive(inbox=inbox, customer=people[0], text="Again")  # follow-up
    inbox_services.message_receive(inbox=elsewhere, customer=reachable(other_workspace), text="Hi")
    received = list(
        OutboxEvent.objects.filter(name="inbox.message.received").values_list("pk", flat=True)
    )

    assert outbox.dispatch_events(received) == len(received)  # one batch, both workspaces
    dispatch_pending()

    sends = Send.objects.filter(rule=rule).select_related("event")
    assert sorted(send.event.payload["conversation_id"] for send in sends) == sorted(
        c.pk for c in started
    )
    assert {send.event.type for send in sends} == {"conversation.created"}
    assert not Send.objects.exclude(workspace=workspace).exists()

    # Delivered again (at least once): nothing more.
    handlers.conversation_created(list(OutboxEvent.objects.filter(pk__in=received)))
    assert Send.objects.filter(rule=rule).count() == 3


def test_a_detractor_gets_a_follow_up_conversation_and_a_promoter_does_not(
    workspace: Any, admin_user: Any, inbox: Any, api: Any, open_guards: None
) -> None:
    survey = make_survey(workspace, "nps")
    detractor = consenting_customer(workspace, name="Dora Detractor")
    promoter = consenting_customer(workspace, name="Paolo Promoter")
    rule = make_rule(
        workspace,
        admin_user,
        "survey.answered",
        {},
        conditions={"field": "event.payload.nps", "op": "lte", "value": 6},
        actions=[
            {
                "type": "create_conversation",
                "inbox": inbox.pk,
                "subject": "Call back {{ name }}",
                "note": "Scored {{ event.nps }}: call within two days.",
                "assignee": admin_user.pk,
                "due_in_days": 2,
            }
        ],
    )
    for person, score in ((detractor, 3), (promoter, 9)):
        invitation, _ = sent_invitation(survey, person)
        answers = {"score": score, "why": "Slow refund." if score < 7 else "Quick."}
        survey_services.response_record(invitation=invitation, answers=answers, keys=["score"])
        survey_services.response_record(invitation=invitation, answers=answers, keys=["why"])
    dispatch_pending()

    send = Send.objects.get(rule=rule)
    assert send.customer_id == detractor.pk
    assert send.event.payload["nps"] == 3
    assert send.event.payload["comment"] == "Slow refund."
    result = send.action_results["0"]
    assert result["status"] == "done"
    conversation = Conversation.objects.get(pk=result["conversation_id"])
    assert conversation.subject == "Call back Dora Detractor"
    assert conversation.assignee_id == admin_user.pk
    assert conversation.status == Conversation.Status.OPEN
    assert conversation.resolution_due_at is not None
    assert conversation.resolution_due_at - timezone.now() > dt.timedelta(days=1, hours=23)
    note = Message.objects.get(conversation=conversation, kind=Message.Kind.NOTE)
    assert note.text.startswith("Scored 3: call within two days.")
    # Agents find it in the inbox.
    listed = api.get("conversations", inbox=inbox.pk).json()["items"]
    assert conversation.pk in [item["id"] for item in listed]
    assert not Conversation.objects.filter(customer=promoter).exists()


def test_dry_runs_of_new_triggers_take_a_customer_or_a_sample_event(
    workspace: Any, admin_user: Any, admin_api: Any, inbox: Any, hello_template: None
) -> None:
    lapsed = reachable(workspace, name="Lia", attributes={"churn_risk": "high"})
    schedule = make_rule(
        workspace,
        admin_user,
        "schedule",
        {"every": "day", "at": "09:00"},
        conditions={"field": "customer.attributes.churn_risk", "op": "eq", "value": "high"},
    )
    answer = admin_api.post(
        f"engagement/rules/{schedule.pk}/dry-run", {"customer_id": lapsed.pk}
    ).json()
    assert answer["matches"] is True
    assert answer["text"] == "Hi Lia"
    assert answer["inbox_id"] == inbox.pk

    survey_rule = make_rule(
        workspace,
        admin_user,
        "survey.answered",
        {},
        conditions={"field": "event.payload.nps", "op": "lte", "value": 6},
    )
    sample = {
        "external_id": "sample",
        "type": "survey.answered",
        "customer": {"id": lapsed.pk},
        "payload": {"nps": 4},
    }
    answer = admin_api.post(f"engagement/rules/{survey_rule.pk}/dry-run", {"event": sample})
    assert answer.status_code == 200, answer.content
    assert answer.json()["matches"] is True
    sample["payload"] = {"nps": 10}
    assert not admin_api.post(
        f"engagement/rules/{survey_rule.pk}/dry-run", {"event": sample}
    ).json()["matches"]
    missing = admin_api.post(f"engagement/rules/{survey_rule.pk}/dry-run", {})
    assert missing.status_code == 422
    assert not Send.objects.exists()
    assert not Event.objects.exists()


def test_rules_with_bad_trigger_settings_and_internal_events_from_outside_are_422s(
    admin_api: Any, api: Any, customer: Any
) -> None:
    response = admin_api.post(
        "engagement/rules",
        {
            "name": "Weekly",
            "trigger": "schedule",
            "trigger_config": {"every": "week", "at": "9am"},
            "actions": [{"type": "add_tag", "tag": "x"}],
        },
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert {"trigger_config.weekday", "trigger_config.at"} <= set(errors)

    created = admin_api.post(
        "engagement/rules",
        {
            "name": "Birthday",
            "trigger": "date",
            "trigger_config": {"attribute": "birthday"},
            "actions": [{"type": "add_tag", "tag": "x"}],
        },
    )
    assert created.status_code == 201, created.content
    assert created.json()["trigger_config"] == {
        "attribute": "birthday",
        "offset_days": 0,
        "yearly": True,
        "at": "09:00",
    }

    forged = {"external_id": "x", "type": "schedule", "customer": {"email": "dana@example.com"}}
    response = api.post("engagement/events", forged)
    assert response.status_code == 422
    assert "type" in response.json()["errors"]


def test_a_rule_is_updated_with_the_same_checks_as_when_created(
    admin_api: Any, api: Any, workspace: Any, other_api: Any
) -> None:
    body: dict[str, Any] = {
        "name": "Weekly check-in",
        "trigger": "schedule",
        "trigger_config": {"every": "day", "at": "09:00"},
        "actions": [{"type": "add_tag", "tag": "check-in"}],
    }
    rule_id = admin_api.post("engagement/rules", body).json()["id"]
    body["trigger_config"] = {"every": "week", "weekday": "friday", "at": "16:00"}
    updated = admin_api.put(f"engagement/rules/{rule_id}", body)
    assert updated.status_code == 200, updated.content
    assert updated.json()["trigger_config"] == body["trigger_config"]
    assert Rule.objects.get(pk=rule_id).trigger_config["weekday"] == "friday"

    body["trigger_config"] = {"every": "week"}
    refused = admin_api.put(f"engagement/rules/{rule_id}", body)
    assert refused.status_code == 422
    assert "trigger_config.weekday" in refused.json()["errors"]
    assert Rule.objects.get(pk=rule_id).trigger_config["weekday"] == "friday"
    assert api.put(f"engagement/rules/{rule_id}", body).status_code == 403
    assert other_api.put(f"engagement/rules/{rule_id}", body).status_code in (403, 404)
