"""Who is invited (sampling, suppression, consent), idempotency, the email, reminders, bounces."""

from __future__ import annotations

import datetime as dt
import re
import smtplib

import pytest
from django.utils import timezone

from ascolto.core.errors import ValidationFailed
from ascolto.customers import services as customer_services
from ascolto.surveys import selectors, services
from ascolto.surveys.models import Invitation
from tests.surveys.factories import SYSTEM, consenting_customer, make_survey

ANSWER_LINK = re.compile(r'href="(http://[^"]+/s/[^"/]+/answer/(\d+)/)"')


@pytest.fixture
def survey(workspace):
    return make_survey(workspace, "nps")


def invite(survey, customer, key="conversation:1", **kw):
    return services.invitation_create(survey=survey, customer=customer, source_key=key, **kw)


def test_invitation_is_scheduled_once_per_trigger_source(survey, workspace):
    customer = consenting_customer(workspace)

    first = invite(survey, customer)
    again = invite(survey, customer)

    assert first.status == "scheduled"
    assert first.skip_reason == ""
    assert again.pk == first.pk
    assert Invitation.objects.filter(survey=survey).count() == 1


def test_no_customer_is_asked_twice_within_the_suppression_window(workspace):
    nps, csat = make_survey(workspace, "nps"), make_survey(workspace, "csat")
    customer = consenting_customer(workspace)
    services.settings_update(workspace=workspace, actor=SYSTEM, suppression_days=30)
    now = timezone.now()

    first = invite(nps, customer, "order:1", now=now)
    Invitation.objects.filter(pk=first.pk).update(status="sent", sent_at=now)
    second = invite(csat, customer, "conversation:9", now=now + dt.timedelta(days=29))
    later = invite(csat, customer, "conversation:10", now=now + dt.timedelta(days=31))

    assert second.status == "skipped"
    assert second.skip_reason == "suppressed"
    assert later.status == "scheduled"


def test_a_scheduled_invitation_suppresses_another_before_it_is_sent(workspace):
    customer = consenting_customer(workspace)
    nps, ces = make_survey(workspace, "nps"), make_survey(workspace, "ces")

    invite(nps, customer, "conversation:1")
    other = invite(ces, customer, "conversation:2")

    assert other.skip_reason == "suppressed"


def test_suppression_can_be_turned_off(workspace, survey):
    customer = consenting_customer(workspace)
    services.settings_update(workspace=workspace, actor=SYSTEM, suppression_days=0)

    invite(survey, customer, "a")

    assert invite(survey, customer, "b").status == "scheduled"


def test_only_customers_with_survey_consent_are_invited(workspace, survey):
    never_asked = consenting_customer(workspace, consent=False)
    revoked = consenting_customer(workspace)
    customer_services.consent_set(
        customer=revoked, purpose="surveys", channel="email", granted=False, actor=SYSTEM
    )
    marketing_only = consenting_customer(workspace, consent=False)
    customer_services.consent_set(
        customer=marketing_only, purpose="marketing", channel="any", granted=True, actor=SYSTEM
    )
    any_channel = consenting_customer(workspace, consent=False)
    customer_services.consent_set(
        customer=any_channel, purpose="surveys", channel="any", granted=True, actor=SYSTEM
    )

    assert invite(survey, never_asked, "1").skip_reason == "no_consent"
    assert invite(survey, revoked, "2").skip_reason == "no_consent"
    assert invite(survey, marketing_only, "3").skip_reason == "no_consent"
    assert invite(survey, any_channel, "4").status == "scheduled"


def test_email_invitations_need_an_address(workspace, survey):
    customer = consenting_customer(workspace, email=None)

    assert invite(survey, customer).skip_reason == "no_address"


def test_inactive_surveys_invite_nobody(workspace, survey):
    services.survey_update(survey=survey, actor=SYSTEM, is_active=False)

    assert invite(survey, consenting_customer(workspace)).skip_reason == "inactive"


def test_sampling_is_deterministic_and_close_to_the_rate(workspace):
    survey = make_survey(workspace, "csat", sampling_rate=0.3)

    decisions = [services.invitations.sampled(survey, f"conversation:{i}") for i in range(2000)]

    assert decisions == [
        services.invitations.sampled(survey, f"conversation:{i}") for i in range(2000)
    ]
    assert 0.26 < sum(decisions) / len(decisions) < 0.34
    assert (
        invite(
            make_survey(workspace, "nps", sampling_rate=0.0), consenting_customer(workspace)
        ).skip_reason
        == "sampling"
    )


def test_invitations_to_customers_of_another_workspace_are_refused(survey, other_workspace):
    with pytest.raises(ValidationFailed):
        invite(survey, consenting_customer(other_workspace))


def test_language_follows_the_customer_when_the_survey_speaks_it(workspace, survey):
    assert invite(survey, consenting_customer(workspace, locale="he"), "1").language == "he"
    assert invite(survey, consenting_customer(workspace, locale="it"), "2").language == "it"
    assert invite(survey, consenting_customer(workspace, locale="fr"), "3").language == "en"


def send_due(now=None):
    return sum(
        services.invitation_send_due(invitation_id=i, now=now)
        for i in services.due_invitation_ids(now=now)
    )


def test_the_email_carries_eleven_one_click_nps_links(workspace, survey, mailoutbox):
    customer = consenting_customer(workspace, email="ada@example.com", name="Ada")
    invitation = invite(survey, customer)

    assert send_due() == 1

    invitation.refresh_from_db()
    assert invitation.status == "sent"
    assert invitation.sent_at
    assert invitation.expires_at
    (message,) = mailoutbox
    assert message.to == ["ada@example.com"]
    html = message.alternatives[0][0]
    links = ANSWER_LINK.findall(html)
    assert [int(score) for _, score in links] == list(range(11))
    token = links[0][0].split("/s/")[1].split("/")[0]
    assert selectors.invitation_for_token(token) == invitation
    assert 'dir="ltr"' in html
    assert "/answer/10/" in message.body


@pytest.mark.parametrize(("kind", "points"), [("csat", 5), ("ces", 7)])
def test_csat_and_ces_emails_link_each_point_of_their_scale(workspace, kind, points, mailoutbox):
    survey = make_survey(workspace, kind)
    invite(survey, consenting_customer(workspace))

    send_due()

    links = ANSWER_LINK.findall(mailoutbox[0].alternatives[0][0])
    low = 1
    assert [int(s) for _, s in links] == list(range(low, low + points))


def test_hebrew_emails_run_right_to_left(workspace, survey, mailoutbox):
    invite(survey, consenting_customer(workspace, locale="he"))

    send_due()

    html = mailoutbox[0].alternatives[0][0]
    assert '<html lang="he" dir="rtl">' in html
    assert 'table role="presentation" dir="rtl"' in html
    assert "עד כמה סביר שתמליצו עלינו" in html
    assert mailoutbox[0].subject == "ספרו לנו איך היה"


def test_invitations_wait_for_their_delay(workspace, survey, mailoutbox):
    now = timezone.now()
    invite(survey, consenting_customer(workspace), send_after=now + dt.timedelta(hours=1))

    assert send_due(now) == 0
    assert send_due(now + dt.timedelta(hours=2)) == 1
    assert send_due(now + dt.timedelta(hours=3)) == 0
    assert len(mailoutbox) == 1


def test_consent_revoked_while_waiting_skips_the_send(workspace, survey, mailoutbox):
    customer = consenting_customer(workspace)
    invitation = invite(survey, customer)
    customer_services.consent_set(
        customer=customer, purpose="surveys", channel="email", granted=False, actor=SYSTEM
    )

    send_due()

    invitation.refresh_from_db()
    assert (invitation.status, invitation.skip_reason) == ("skipped", "no_consent")
    assert mailoutbox == []


def test_a_mail_server_error_is_retried_then_recorded_as_failed(workspace, survey, monkeypatch):
    invitation = invite(survey, consenting_customer(workspace))

    def refuse(self, *args, **kwargs):
        raise smtplib.SMTPServerDisconnected("gone")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", refuse)
    now = timezone.now()
    for attempt in range(3):
        send_due(now + dt.timedelta(minutes=11 * attempt))

    invitation.refresh_from_db()
    assert invitation.attempts == 3
    assert invitation.status == "failed"
    assert "gone" in invitation.last_error


def test_one_reminder_after_the_configured_hours_with_a_fresh_link(workspace, survey, mailoutbox):
    services.settings_update(workspace=workspace, actor=SYSTEM, reminder_after_hours=48)
    invitation = invite(survey, consenting_customer(workspace))
    now = timezone.now()
    send_due(now)
    first_token = ANSWER_LINK.findall(mailoutbox[0].alternatives[0][0])[0][0]

    def remind(at):
        return sum(
            services.invitation_remind(invitation_id=i, now=at)
            for i in services.reminder_candidate_ids(now=at)
        )

    assert remind(now + dt.timedelta(hours=47)) == 0
    assert remind(now + dt.timedelta(hours=49)) == 1
    assert remind(now + dt.timedelta(hours=80)) == 0

    assert len(mailoutbox) == 2
    assert mailoutbox[1].subject.startswith("Reminder:")
    second_token = ANSWER_LINK.findall(mailoutbox[1].alternatives[0][0])[0][0]
    assert second_token != first_token
    for link in (first_token, second_token):
        token = link.split("/s/")[1].split("/")[0]
        assert selectors.invitation_for_token(token).pk == invitation.pk


def test_answered_invitations_get_no_reminder(workspace, survey, mailoutbox):
    invitation = invite(survey, consenting_customer(workspace))
    now = timezone.now()
    send_due(now)
    Invitation.objects.filter(pk=invitation.pk).update(answered_at=now)

    assert services.reminder_candidate_ids(now=now + dt.timedelta(days=5)) == []


def test_bounces_are_recorded_once(workspace, survey):
    invitation = invite(survey, consenting_customer(workspace))
    send_due()
    invitation.refresh_from_db()

    services.invitation_mark_bounced(invitation=invitation, reason="550 no such user", actor=SYSTEM)
    first = invitation.bounced_at
    services.invitation_mark_bounced(invitation=invitation, reason="again", actor=SYSTEM)

    invitation.refresh_from_db()
    assert invitation.status == "bounced"
    assert invitation.bounced_at == first
    assert invitation.bounce_reason == "550 no such user"


def test_relational_surveys_invite_each_customer_once_per_period(workspace):
    survey = make_survey(workspace, "nps", trigger="relational", relational_every_days=90)
    services.settings_update(workspace=workspace, actor=SYSTEM, suppression_days=0)
    customers = [consenting_customer(workspace) for _ in range(3)]
    consenting_customer(workspace, email=None)  # no address: not a candidate
    # Ten days into a 90-day period, so "a day later" stays in the same period.
    now = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=90 * 230 + 10)

    assert services.relational_invite(survey=survey, now=now) == 3
    assert services.relational_invite(survey=survey, now=now + dt.timedelta(days=1)) == 0
    later = now + dt.timedelta(days=91)
    assert services.relational_invite(survey=survey, now=later) == 3
    assert Invitation.objects.filter(survey=survey, customer=customers[0]).count() == 2


def test_links_need_survey_consent_on_some_channel_unless_revoked_for_all(workspace, survey):
    email_only = consenting_customer(workspace)
    revoked_everywhere = consenting_customer(workspace)
    customer_services.consent_set(
        customer=revoked_everywhere, purpose="surveys", channel="any", granted=False, actor=SYSTEM
    )
    never = consenting_customer(workspace, consent=False)

    assert invite(survey, email_only, "1", channel="link").status == "scheduled"
    assert invite(survey, revoked_everywhere, "2", channel="link").skip_reason == "no_consent"
    assert invite(survey, never, "3", channel="link").skip_reason == "no_consent"


def test_the_email_job_never_emails_link_invitations(workspace, survey, mailoutbox):
    link = invite(survey, consenting_customer(workspace), channel="link")

    assert services.due_invitation_ids() == []
    assert services.invitation_send(invitation=link) is False
    assert mailoutbox == []
