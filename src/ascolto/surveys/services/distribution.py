"""Surveys asked in a messaging conversation (SMS, WhatsApp): the invitation is a message with the
first question ("reply with a number from 0 to 10"), and the customer's next message answers it.

Sending. An invitation on the `sms` or `whatsapp` channel belongs to a conversation of an inbox of
that channel (the conversation that triggered it). The job that sends due invitations calls
`invitation_send_message`, which writes a bot message through the inbox services; the channel's
connector (Twilio, Meta) sends it on the inbox's "inbox.message.sent" event, like any reply.

Answering. Every inbound message goes through `reply_handle` (outbox handler of
"inbox.message.received"). While the customer has an invitation pending in that inbox (sent, not
answered, not expired, not given up), the message is read as the answer:

* a whole number in the question's range is recorded through `response_record` (which locks the
  invitation: a provider retry or a second reply never records twice); the customer gets one
  thank-you line with a link to the rest of the survey (the "why?"). The message stays in the
  conversation's history, but it is not a support request: a conversation it opened or reopened
  is resolved again at once (reason "survey answered by reply"), so it leaves the queue and its
  SLA clock stops, and resolving it never asks a new survey;
* anything else (another number, text) gets one clarification; the message itself is left as it
  is (it may be a real question, so it stays open for an agent). After a second reply that is
  not an answer, the invitation is left alone: later messages are ordinary messages, and the
  survey link still works.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import cast

from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ascolto.accounts.models import User
from ascolto.core import outbox
from ascolto.core.actors import Actor
from ascolto.customers.models import Customer
from ascolto.customers.selectors import consent_allows
from ascolto.inbox import services as inbox_services
from ascolto.inbox.inbound import NOT_A_REQUEST
from ascolto.inbox.models import Conversation, Inbox, Message
from ascolto.surveys.emails import survey_url
from ascolto.surveys.models import Invitation, Question
from ascolto.surveys.questions import SCALE_TYPES, localize, survey_text
from ascolto.surveys.services.invitations import Skip, invitation_issue_link
from ascolto.surveys.services.responses import LinkExpired, response_record

ACTOR = Actor.system("surveys")
MESSAGE_CHANNELS = (Invitation.Channel.SMS, Invitation.Channel.WHATSAPP)
# "7", " 7 ", "7." or "7!" (digits of any script count); not "7/10" or "7 stars".
NUMBER_RE = re.compile(r"^\s*(\d{1,3})\s*[.!]?\s*$")
RESOLVE_REASON = "survey answered by reply"


@dataclass(frozen=True, slots=True)
class ReplyOutcome:
    """What became of an inbound message: `none` (no invitation pending), `answered`,
    `duplicate` (answered before), `clarified` (asked again) or `released` (left alone)."""

    outcome: str
    invitation: Invitation | None = None


def message_consent(invitation: Invitation) -> bool:
    """Survey consent for the invitation's messaging channel (or "any")."""
    return consent_allows(
        customer=invitation.customer, purpose="surveys", channel=str(invitation.channel)
    )


def has_conversation(channel: str, conversation: Conversation | None) -> bool:
    """Whether a messaging invitation has where to go: a conversation of its channel."""
    return conversation is not None and conversation.channel == channel


def first_scale_question(invitation: Invitation) -> Question | None:
    first = Question.objects.filter(survey_id=invitation.survey_id).order_by("position").first()
    return first if first is not None and first.type in SCALE_TYPES else None


def _prompt(invitation: Invitation, first: Question | None, token: str) -> str:
    language = invitation.language
    with translation.override(language):
        title = survey_text(invitation.survey, "title", language)
        if first is None:
            return _("%(title)s: please answer here: %(url)s") % {
                "title": title,
                "url": survey_url(token),
            }
        view = localize(first, language)
        return _("%(title)s. %(question)s Reply with a number from %(low)d to %(high)d.") % {
            "title": title,
            "question": view.text,
            "low": view.points[0],
            "high": view.points[-1],
        }


def _bot_message(conversation: Conversation, text: str) -> Message:
    return inbox_services.message_send(
        conversation=conversation,
        author=cast(User, None),  # a bot message has no author
        actor=ACTOR,
        text=text,
        kind=Message.Kind.BOT,
    )


def invitation_send_message(*, invitation: Invitation, now: dt.datetime | None = None) -> bool:
    """Send one scheduled SMS/WhatsApp invitation as a message in its conversation. The caller
    holds the row lock (see `invitation_send_due`). Consent and the conversation are checked
    again; a survey that became inactive is skipped. Returns whether the message was written
    (the connector sends it after commit and reports delivery on the message)."""
    moment = now or timezone.now()
    if invitation.status != Invitation.Status.SCHEDULED or invitation.channel not in (
        MESSAGE_CHANNELS
    ):
        return False
    conversation = invitation.conversation
    reason = ""
    if not invitation.survey.is_active:
        reason = Skip.INACTIVE
    elif not message_consent(invitation):
        reason = Skip.NO_CONSENT
    elif conversation is None or not has_conversation(str(invitation.channel), conversation):
        reason = Skip.NO_ADDRESS
    if reason:
        invitation.status, invitation.skip_reason = Invitation.Status.SKIPPED, reason
        invitation.save(update_fields=["status", "skip_reason", "updated_at"])
        return False
    assert conversation is not None
    token = invitation_issue_link(invitation=invitation, now=moment)
    first = first_scale_question(invitation)
    message = _bot_message(conversation, _prompt(invitation, first, token))
    invitation.attempts += 1
    invitation.status = Invitation.Status.SENT
    invitation.sent_at = moment
    invitation.context = {**invitation.context, "message_id": message.pk}
    invitation.save(update_fields=["attempts", "status", "sent_at", "context", "updated_at"])
    outbox.emit(
        workspace=invitation.survey.workspace,
        name="surveys.invitation.sent",
        payload={
            "invitation_id": invitation.pk,
            "survey_id": invitation.survey_id,
            "customer_id": invitation.customer_id,
            "channel": invitation.channel,
        },
    )
    return True


def _pending(
    workspace_id: int, customer_id: int, inbox_id: int, when: dt.datetime
) -> QuerySet[Invitation]:
    return (
        Invitation.objects.filter(
            workspace_id=workspace_id,
            customer_id=customer_id,
            channel__in=MESSAGE_CHANNELS,
            conversation__inbox_id=inbox_id,
            status=Invitation.Status.SENT,
            answered_at__isnull=True,
            expires_at__gt=when,
            sent_at__lte=when,
        )
        .exclude(context__has_key="released_by")
        .order_by("-sent_at", "-id")
    )


def pending_invitation(message: Message) -> Invitation | None:
    """The invitation a customer's message in a messaging inbox may answer: the latest one sent
    in that inbox, by reply, unanswered, unexpired and not given up. Locked."""
    if message.author_customer_id is None:
        return None
    return (
        _pending(
            message.workspace_id, message.author_customer_id, message.inbox_id, message.created_at
        )
        .select_for_update(of=("self",))
        .select_related("survey", "survey__workspace", "customer")
        .first()
    )


def classify_inbound(
    inbox: Inbox, customer: Customer, text: str, when: dt.datetime
) -> dict[str, object]:
    """Inbox classifier (inbox/inbound.py): a reply that will be read as the answer to a pending
    invitation (a number on the first question's scale) is not a support request, so it opens,
    reopens and routes nothing, and neither the assistant nor automatic replies answer it."""
    if inbox.channel not in MESSAGE_CHANNELS:
        return {}
    value = _number(text)
    if value is None:
        return {}
    invitation = _pending(inbox.workspace_id, customer.pk, inbox.pk, when).first()
    first = first_scale_question(invitation) if invitation is not None else None
    if first is None:
        return {}
    points = localize(first, invitation.language if invitation else "").points
    if not points[0] <= value <= points[-1]:
        return {}
    return {NOT_A_REQUEST: "survey_answer"}


def _number(text: str) -> int | None:
    found = NUMBER_RE.match(text)
    return int(found.group(1)) if found else None


def reply_handle(
    *, message: Message, opened_conversation: bool = False, now: dt.datetime | None = None
) -> ReplyOutcome:
    """Read a customer's inbound message as the answer to their pending invitation, if any (see
    the module's docstring). `opened_conversation`: the message created or reopened its
    conversation (it is resolved again when the message was an answer)."""
    if message.kind != Message.Kind.INBOUND or message.author_customer_id is None:
        return ReplyOutcome("none")
    invitation = pending_invitation(message)
    if invitation is None:
        return ReplyOutcome("none")
    moment = now or timezone.now()
    first = first_scale_question(invitation)
    if first is None:
        return ReplyOutcome("none", invitation)
    language = invitation.language
    low, high = localize(first, language).points[0], localize(first, language).points[-1]
    value = _number(message.text)
    conversation = message.conversation
    if value is None or not low <= value <= high:
        return _not_an_answer(invitation, message, conversation, low, high)
    try:
        result = response_record(
            invitation=invitation, answers={first.key: value}, keys=[first.key], now=moment
        )
    except LinkExpired:
        return ReplyOutcome("none", invitation)
    if result.already_completed:
        return ReplyOutcome("duplicate", invitation)
    invitation.context = {
        **invitation.context,
        "answered_by": message.pk,
        **({"reply_conversation": conversation.pk} if opened_conversation else {}),
    }
    invitation.save(update_fields=["context", "updated_at"])
    with translation.override(language):
        if result.next_questions:
            token = invitation_issue_link(invitation=invitation, now=moment)
            thanks = _("Thank you! Tell us why, and the rest, here: %(url)s") % {
                "url": survey_url(token)
            }
        else:
            thanks = _("Thank you for your answer!")
    _bot_message(conversation, thanks)
    if opened_conversation:
        inbox_services.conversation_set_status(
            conversation=conversation,
            status=Conversation.Status.RESOLVED,
            actor=ACTOR,
            reason=RESOLVE_REASON,
        )
    return ReplyOutcome("answered", invitation)


def _not_an_answer(
    invitation: Invitation, message: Message, conversation: Conversation, low: int, high: int
) -> ReplyOutcome:
    context = invitation.context
    if context.get("clarified_by") == message.pk:
        return ReplyOutcome("clarified", invitation)
    if context.get("clarified_by") is not None:
        invitation.context = {**context, "released_by": message.pk}
        invitation.save(update_fields=["context", "updated_at"])
        return ReplyOutcome("released", invitation)
    invitation.context = {**context, "clarified_by": message.pk}
    invitation.save(update_fields=["context", "updated_at"])
    with translation.override(invitation.language):
        text = _("To answer the survey, please reply with just a number from %(low)d to %(high)d.")
        text %= {"low": low, "high": high}
    _bot_message(conversation, text)
    return ReplyOutcome("clarified", invitation)


def answered_by_reply_in(conversation: Conversation) -> bool:
    """Whether a survey answer by reply opened this conversation (resolving it again must not
    ask a new survey)."""
    return Invitation.objects.filter(
        workspace_id=conversation.workspace_id,
        customer_id=conversation.customer_id,
        context__reply_conversation=conversation.pk,
    ).exists()
