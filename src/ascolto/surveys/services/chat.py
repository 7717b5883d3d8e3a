"""The survey at the end of a web chat: the widget asks the first question of the workspace's
CSAT survey inline and links to the rest (connectors/webchat: handlers.set_survey_link).

The chat's invitation is the one the "conversation resolved" trigger makes for the same
conversation (source key `conversation:<id>`), so an answer in the widget and one through the
link are the same invitation, recorded once. Handed to the widget, it counts as sent now by
link, instead of by email after the survey's delay.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from ascolto.inbox.models import Channel, Conversation
from ascolto.surveys.emails import survey_url
from ascolto.surveys.models import Invitation, Survey
from ascolto.surveys.services.invitations import invitation_create, invitation_issue_link


def chat_survey(conversation: Conversation) -> Survey | None:
    """The active CSAT survey asked when a web chat is resolved, if any (the oldest)."""
    for survey in Survey.objects.filter(
        workspace_id=conversation.workspace_id,
        kind=Survey.Kind.CSAT,
        trigger=Survey.Trigger.CONVERSATION_RESOLVED,
        is_active=True,
    ).order_by("pk"):
        if not survey.trigger_channels or Channel.WEBCHAT in survey.trigger_channels:
            return survey
    return None


def chat_survey_url(conversation: Conversation, *, now: dt.datetime | None = None) -> str:
    """The survey link for a web chat that just ended, "" when none is to be asked (no CSAT
    survey, not sampled, no consent, asked recently, already answered). Idempotent: a second
    call for the same chat issues a new link to the same invitation."""
    if conversation.channel != Channel.WEBCHAT:
        return ""
    survey = chat_survey(conversation)
    if survey is None:
        return ""
    moment = now or timezone.now()
    invitation = invitation_create(
        survey=survey,
        customer=conversation.customer,
        source_key=f"conversation:{conversation.pk}",
        channel=Invitation.Channel.LINK,
        send_after=moment,
        conversation=conversation,
        agent=conversation.assignee,
        team=conversation.team,
        now=moment,
    )
    if invitation.answered_at is not None or invitation.status not in (
        Invitation.Status.SCHEDULED,
        Invitation.Status.SENT,
    ):
        return ""
    if invitation.status == Invitation.Status.SCHEDULED:
        Invitation.objects.filter(pk=invitation.pk, status=Invitation.Status.SCHEDULED).update(
            channel=Invitation.Channel.LINK,
            status=Invitation.Status.SENT,
            sent_at=moment,
            updated_at=moment,
        )
        invitation.refresh_from_db()
    return survey_url(invitation_issue_link(invitation=invitation, now=moment))
