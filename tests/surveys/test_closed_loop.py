"""Triggers and the closed loop, end to end through the outbox handlers."""

from __future__ import annotations

import datetime as dt
import types

import pytest
from django.utils import timezone

from ascolto.core.actors import Actor
from ascolto.core.errors import ValidationFailed
from ascolto.core.models import AuditLogEntry
from ascolto.customers import services as customer_services
from ascolto.customers.services import OrderInput
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Conversation, Message
from ascolto.surveys import selectors, services
from ascolto.surveys.models import FollowUp, Invitation, Response
from tests.accounts.factories import MembershipFactory, TeamFactory, UserFactory
from tests.inbox.factories import InboxFactory
from tests.surveys.factories import (
    SYSTEM,
    consenting_customer,
    dispatch_pending,
    make_survey,
    sent_invitation,
)


def member(workspace, role="agent"):
    user = UserFactory()
    MembershipFactory(workspace=workspace, user=user, role=role)
    return user


def resolved_conversation(workspace, customer, *, channel="email", agent=None, team=None):
    inbox = InboxFactory(workspace=workspace, channel=channel, team=team)
    conversation = inbox_services.message_receive(
        inbox=inbox, customer=customer, text="Where is my refund?"
    ).conversation
    if agent is not None:
        inbox_services.conversation_assign(conversation=conversation, assignee=agent, actor=SYSTEM)
    inbox_services.conversation_set_status(
        conversation=conversation, status="resolved", actor=SYSTEM
    )
    return conversation


def test_resolving_a_conversation_schedules_the_csat_survey_after_its_delay(workspace):
    survey = make_survey(
        workspace,
        "csat",
        trigger="conversation_resolved",
        delay_minutes=30,
        trigger_channels=["email", "webchat"],
    )
    agent, team = member(workspace), TeamFactory(workspace=workspace)
    customer = consenting_customer(workspace)
    conversation = resolved_conversation(workspace, customer, agent=agent, team=team)
    before = timezone.now()

    dispatch_pending()

    invitation = Invitation.objects.get(survey=survey)
    assert invitation.source_key == f"conversation:{conversation.pk}"
    assert invitation.conversation == conversation
    assert invitation.agent == agent
    assert invitation.team == team
    assert invitation.context_channel == "email"
    assert before + dt.timedelta(minutes=29) < invitation.send_after
    assert invitation.send_after < timezone.now() + dt.timedelta(minutes=31)


def test_a_reopened_and_resolved_again_conversation_is_asked_once(workspace):
    survey = make_survey(workspace, "csat", trigger="conversation_resolved")
    customer = consenting_customer(workspace)
    conversation = resolved_conversation(workspace, customer)
    dispatch_pending()

    inbox_services.conversation_set_status(conversation=conversation, status="open", actor=SYSTEM)
    inbox_services.conversation_set_status(
        conversation=conversation, status="resolved", actor=SYSTEM
    )
    dispatch_pending()

    assert Invitation.objects.filter(survey=survey).count() == 1


def test_channels_the_survey_does_not_listen_to_are_ignored(workspace):
    make_survey(workspace, "csat", trigger="conversation_resolved", trigger_channels=["webchat"])
    resolved_conversation(workspace, consenting_customer(workspace), channel="email")

    dispatch_pending()

    assert not Invitation.objects.exists()


def test_a_delivered_order_schedules_the_delivery_survey_once(workspace):
    survey = make_survey(workspace, "ces", trigger="order_delivered", touchpoint="delivery")
    customer = consenting_customer(workspace)
    now = timezone.now()
    data = OrderInput(
        external_id="A-1",
        status="shipped",
        placed_at=now - dt.timedelta(days=2),
        total="10.00",
        currency="EUR",
    )
    customer_services.order_upsert(workspace=workspace, customer=customer, data=data, actor=SYSTEM)
    dispatch_pending()
    assert not Invitation.objects.exists()

    data.status, data.delivered_at = "delivered", now
    order, _ = customer_services.order_upsert(
        workspace=workspace, customer=customer, data=data, actor=SYSTEM
    )
    data.metadata = {"note": "left at the door"}
    customer_services.order_upsert(workspace=workspace, customer=customer, data=data, actor=SYSTEM)
    dispatch_pending()

    invitation = Invitation.objects.get(survey=survey)
    assert invitation.order == order
    assert invitation.source_key == f"order:{order.pk}"


def answer(invitation, answers):
    return services.response_record(invitation=invitation, answers=answers, keys=list(answers))


def test_a_detractor_becomes_a_follow_up_case_assigned_by_rule(workspace, mailoutbox):
    owner, handler = member(workspace), member(workspace)
    services.settings_update(
        workspace=workspace,
        actor=SYSTEM,
        followup_due_hours=48,
        followup_rules=[
            {"touchpoint": "delivery", "owner": owner.pk, "due_hours": 24},
            {"owner": "agent"},
        ],
    )
    survey = make_survey(workspace, "nps", trigger="conversation_resolved")
    customer = consenting_customer(workspace, name="Ada", email="ada@example.com")
    resolved_conversation(workspace, customer, agent=handler)
    dispatch_pending()
    invitation = Invitation.objects.get(survey=survey)
    services.invitation_send_due(invitation_id=invitation.pk)
    invitation.refresh_from_db()

    answer(invitation, {"score": 2})
    answer(invitation, {"why": "The refund took three weeks."})
    dispatch_pending()

    followup = FollowUp.objects.get()
    assert followup.reason == "nps"
    assert followup.owner == handler
    assert followup.due_at - followup.created_at == dt.timedelta(hours=48)
    case = followup.conversation
    assert case.assignee == handler
    assert case.channel == "api"
    assert case.customer == customer
    assert "NPS 2" in case.subject
    assert Message.objects.get(conversation=case).text == "The refund took three weeks."
    settings = services.settings_for(workspace)
    assert case.inbox == settings.followup_inbox

    # Re-delivery of the answer event opens nothing new.
    response = followup.response
    assert services.response_follow_up(response=response) == followup

    # The owner calls, then closes the loop and the customer is told what changed.
    services.followup_record_contact(followup=followup, actor=SYSTEM)
    actor = Actor.for_user(handler)
    services.followup_close_loop(
        followup=followup,
        root_cause="billing",
        action_taken="Refunds now take 3 days.",
        message="We now refund within three days.",
        actor=actor,
    )
    assert services.followup_notify(followup_id=followup.pk)
    assert not services.followup_notify(followup_id=followup.pk)

    followup.refresh_from_db()
    assert followup.status == "closed"
    assert followup.root_cause == "billing"
    assert followup.first_contact_at <= followup.closed_at
    assert followup.notified_at
    case.refresh_from_db()
    assert case.status == "resolved"
    told = [m for m in mailoutbox if m.to == ["ada@example.com"]][-1]
    assert "We now refund within three days." in told.body
    assert AuditLogEntry.objects.filter(action="survey.followup.close").count() == 1
    # The follow-up case being resolved does not trigger another survey.
    dispatch_pending()
    assert Invitation.objects.filter(customer=customer).count() == 1


def test_rules_pick_the_owner_by_touchpoint_and_fall_back_to_the_default(workspace):
    delivery_lead, default_owner = member(workspace), member(workspace)
    services.settings_update(
        workspace=workspace,
        actor=SYSTEM,
        followup_owner=default_owner,
        followup_rules=[{"touchpoint": "delivery", "owner": delivery_lead.pk, "due_hours": 24}],
    )
    delivery = make_survey(workspace, "csat", touchpoint="delivery")
    billing = make_survey(workspace, "csat", touchpoint="billing")
    services.settings_update(workspace=workspace, actor=SYSTEM, suppression_days=0)

    for survey in (delivery, billing):
        invitation, _ = sent_invitation(survey, consenting_customer(workspace))
        answer(invitation, {"score": 1, "why": ""})
    dispatch_pending()

    by_touchpoint = {f.response.touchpoint: f for f in FollowUp.objects.select_related("response")}
    assert by_touchpoint["delivery"].owner == delivery_lead
    assert by_touchpoint["delivery"].due_at - by_touchpoint["delivery"].created_at == (
        dt.timedelta(hours=24)
    )
    assert by_touchpoint["billing"].owner == default_owner
    assert {f.reason for f in by_touchpoint.values()} == {"csat"}


@pytest.mark.parametrize(
    ("kind", "score", "poor"),
    [
        ("nps", 6, True),
        ("nps", 7, False),
        ("csat", 2, True),
        ("csat", 3, False),
        ("ces", 3, True),
        ("ces", 4, False),
    ],
)
def test_follow_up_thresholds(workspace, kind, score, poor):
    invitation, _ = sent_invitation(make_survey(workspace, kind), consenting_customer(workspace))

    answer(invitation, {"score": score, "why": ""})
    dispatch_pending()

    assert FollowUp.objects.exists() is poor


def test_negative_comments_are_followed_up_when_a_sentiment_model_is_present(
    workspace, settings, monkeypatch
):
    module = types.ModuleType("fake_sentiment")
    module.classify = lambda text, language: "negative" if "rude" in text else "positive"
    monkeypatch.setitem(__import__("sys").modules, "fake_sentiment", module)
    settings.ASCOLTO_SURVEYS_SENTIMENT = "fake_sentiment.classify"
    services.settings_update(workspace=workspace, actor=SYSTEM, suppression_days=0)
    survey = make_survey(workspace, "nps")
    happy_score_rude_words, _ = sent_invitation(survey, consenting_customer(workspace))
    fine, _ = sent_invitation(survey, consenting_customer(workspace))

    answer(happy_score_rude_words, {"score": 9, "why": "The agent was rude."})
    answer(fine, {"score": 9, "why": "Quick and kind."})
    dispatch_pending()

    followup = FollowUp.objects.get()
    assert followup.reason == "sentiment"
    assert followup.response.sentiment == "negative"
    assert Response.objects.get(invitation=fine).sentiment == "positive"


def test_without_a_sentiment_model_comments_are_left_unscored(workspace, settings):
    settings.ASCOLTO_SURVEYS_SENTIMENT = "ascolto.nowhere.classify"
    invitation, _ = sent_invitation(make_survey(workspace, "nps"), consenting_customer(workspace))

    answer(invitation, {"score": 10, "why": "terrible, awful, rude"})
    dispatch_pending()

    assert Response.objects.get().sentiment == ""
    assert not FollowUp.objects.exists()


def test_closing_the_loop_needs_a_root_cause_and_the_action(workspace):
    invitation, _ = sent_invitation(make_survey(workspace, "nps"), consenting_customer(workspace))
    answer(invitation, {"score": 0, "why": ""})
    dispatch_pending()
    followup = FollowUp.objects.get()

    with pytest.raises(ValidationFailed) as caught:
        services.followup_close_loop(
            followup=followup, root_cause="", action_taken=" ", message="", actor=SYSTEM
        )

    assert set(caught.value.field_errors) == {"root_cause", "action_taken"}
    followup.refresh_from_db()
    assert followup.status == "open"


def test_closed_loop_figures_from_the_database(workspace):
    services.settings_update(workspace=workspace, actor=SYSTEM, suppression_days=0)
    survey = make_survey(workspace, "nps")
    customer = consenting_customer(workspace)
    first, _ = sent_invitation(survey, customer, source_key="one")
    answer(first, {"score": 3, "why": ""})
    dispatch_pending()
    followup = FollowUp.objects.get()
    start = followup.response.created_at
    services.followup_record_contact(
        followup=followup, actor=SYSTEM, now=start + dt.timedelta(hours=5)
    )
    services.followup_close_loop(
        followup=followup,
        root_cause="product",
        action_taken="Fixed.",
        message="",
        actor=SYSTEM,
        now=start + dt.timedelta(hours=20),
    )
    again, _ = sent_invitation(survey, customer, source_key="two")
    answer(again, {"score": 8, "why": ""})

    summary = selectors.closed_loop_summary(workspace=workspace)

    assert summary.followed_up == 1
    assert summary.contacted == 1
    assert summary.closed == 1
    assert summary.share_followed_up == 100.0
    assert summary.median_hours_to_first_contact == pytest.approx(5.0)
    assert summary.median_hours_to_close == pytest.approx(20.0)
    assert summary.resurveyed == 1
    assert summary.mean_resurvey_change == 5
    assert Conversation.objects.filter(pk=followup.conversation_id, status="resolved").exists()
