"""The survey jobs do their work through the services: send, remind, invite, close, notify."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from ascolto.surveys import services, tasks
from ascolto.surveys.models import FollowUp, Invitation, Response
from tests.surveys.factories import (
    SYSTEM,
    consenting_customer,
    dispatch_pending,
    make_survey,
    sent_invitation,
)


def test_the_send_job_sends_what_is_due_and_leaves_the_rest(workspace, mailoutbox):
    survey = make_survey(workspace, "nps")
    services.settings_update(workspace=workspace, actor=SYSTEM, suppression_days=0)
    now = timezone.now()
    due = services.invitation_create(
        survey=survey, customer=consenting_customer(workspace), source_key="a"
    )
    later = services.invitation_create(
        survey=survey,
        customer=consenting_customer(workspace),
        source_key="b",
        send_after=now + dt.timedelta(hours=1),
    )

    assert tasks.send_due_invitations.call_local() == 1

    assert Invitation.objects.get(pk=due.pk).status == "sent"
    assert Invitation.objects.get(pk=later.pk).status == "scheduled"
    assert len(mailoutbox) == 1


def test_the_reminder_job_reminds_once(workspace, mailoutbox):
    services.settings_update(workspace=workspace, actor=SYSTEM, reminder_after_hours=1)
    survey = make_survey(workspace, "csat")
    invitation = services.invitation_create(survey=survey, customer=consenting_customer(workspace))
    tasks.send_due_invitations.call_local()
    Invitation.objects.filter(pk=invitation.pk).update(
        sent_at=timezone.now() - dt.timedelta(hours=2)
    )

    assert tasks.send_reminders.call_local() == 1
    assert tasks.send_reminders.call_local() == 0
    assert len(mailoutbox) == 2


def test_the_relational_job_invites_the_customers_of_active_relational_surveys(workspace):
    make_survey(workspace, "nps", trigger="relational")
    make_survey(workspace, "nps", name="Paused", trigger="relational", is_active=False)
    consenting_customer(workspace)

    assert tasks.invite_relational.call_local() == 1
    assert Invitation.objects.get().survey.name == "NPS survey"


def test_the_stale_job_closes_unfinished_answers(workspace, settings):
    settings.ASCOLTO_SURVEYS_STALE_MINUTES = 0
    invitation, _ = sent_invitation(make_survey(workspace, "nps"), consenting_customer(workspace))
    services.response_record(invitation=invitation, answers={"score": 2}, keys=["score"])

    assert tasks.close_stale_responses.call_local() == 1

    assert Response.objects.get().closed == "timed_out"
    dispatch_pending()
    assert FollowUp.objects.get().reason == "nps"


def test_the_notify_job_emails_the_closing_message(workspace, agent, mailoutbox):
    invitation, _ = sent_invitation(
        make_survey(workspace, "nps"), consenting_customer(workspace, email="bo@example.com")
    )
    services.response_record(
        invitation=invitation, answers={"score": 0, "why": ""}, keys=["score", "why"]
    )
    dispatch_pending()
    followup = FollowUp.objects.get()
    services.followup_close_loop(
        followup=followup,
        root_cause="delivery",
        action_taken="New courier.",
        message="We changed courier.",
        actor=SYSTEM,
    )
    mailoutbox.clear()

    assert tasks.send_followup_message.call_local(followup.pk) is True

    (message,) = mailoutbox
    assert message.to == ["bo@example.com"]
    assert "We changed courier." in message.body
