"""The closed loop: a poor answer becomes a follow-up case in the inbox with an owner and a due
date; the owner contacts the customer, records the root cause and the action taken, and the
customer is told what changed."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from ascolto.accounts.models import Membership, User
from ascolto.core import outbox
from ascolto.core.actors import Actor
from ascolto.core.audit import audit_record
from ascolto.core.errors import Conflict, ValidationFailed
from ascolto.customers.models import Activity
from ascolto.customers.selectors import consent_allows
from ascolto.customers.services import activity_record
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Channel, Inbox
from ascolto.surveys import conf, emails
from ascolto.surveys.models import FollowUp, Response, SurveySettings
from ascolto.surveys.services.invitations import email_address
from ascolto.surveys.services.surveys import settings_for

logger = logging.getLogger(__name__)

SYSTEM = Actor.system("surveys")
FOLLOWUP_INBOX_NAME = "Survey follow-ups"
NPS_POOR_AT_MOST = 6
CSAT_POOR_AT_MOST = 2
# CES is asked as agreement with "the company made it easy to handle my issue" (7 = strongly
# agree). The rule "CES >= 5 is poor" is stated on the effort scale, effort = 8 - agreement;
# effort >= 5 is agreement <= 3.
CES_POOR_EFFORT_AT_LEAST = 5
NEGATIVE = "negative"


def ces_effort(ces_score: int) -> int:
    return 8 - ces_score


def poor_reason(
    *,
    nps: int | None,
    csat: int | None,
    ces: int | None,
    sentiment: str = "",
    use_sentiment: bool = True,
) -> str | None:
    """Why an answer needs a follow-up (the first rule that fires), or None."""
    if nps is not None and nps <= NPS_POOR_AT_MOST:
        return FollowUp.Reason.NPS
    if csat is not None and csat <= CSAT_POOR_AT_MOST:
        return FollowUp.Reason.CSAT
    if ces is not None and ces_effort(ces) >= CES_POOR_EFFORT_AT_LEAST:
        return FollowUp.Reason.CES
    if use_sentiment and sentiment == NEGATIVE:
        return FollowUp.Reason.SENTIMENT
    return None


def sentiment_of(text: str, language: str) -> str:
    """ "negative", "neutral" or "positive" from the configured sentiment function, or "" when
    there is no comment or no sentiment model is installed (it is imported lazily).

    The function takes (text, language) and returns a label, an object with a `label`, or a
    score in [-1, 1] (below -0.25 is negative, above 0.25 positive).
    """
    if not text.strip():
        return ""
    try:
        function = import_string(conf.sentiment_path())
    except ImportError:
        return ""
    try:
        result: Any = function(text, language)
    except Exception:
        logger.exception("Sentiment function failed; the comment is left unscored")
        return ""
    label = getattr(result, "label", result)
    if isinstance(label, int | float) and not isinstance(label, bool):
        return NEGATIVE if label < -0.25 else "positive" if label > 0.25 else "neutral"
    label = str(label).strip().lower()
    return label if label in {NEGATIVE, "neutral", "positive"} else ""


def _member(workspace_id: int, user_id: int | None) -> User | None:
    if user_id is None:
        return None
    found = (
        Membership.objects.filter(workspace_id=workspace_id, user_id=user_id)
        .select_related("user")
        .first()
    )
    return found.user if found is not None else None


def pick_owner(
    *, rules: SurveySettings, response: Response, reason: str
) -> tuple[User | None, int]:
    """(owner, due hours): the first matching rule, then the default owner, then the agent who
    handled the conversation. A rule's owner "agent" means that agent; a rule whose owner is
    gone is passed over."""
    due_hours = rules.followup_due_hours
    facts = {"touchpoint": response.touchpoint, "segment": response.segment, "reason": reason}
    for rule in rules.followup_rules:
        if not isinstance(rule, dict):
            continue
        if any(rule[k] != facts[k] for k in ("touchpoint", "segment", "reason") if k in rule):
            continue
        owner_ref = rule.get("owner")
        owner = _member(
            response.workspace_id,
            response.agent_id
            if owner_ref == "agent"
            else owner_ref
            if isinstance(owner_ref, int)
            else None,
        )
        if owner is not None:
            return owner, int(rule.get("due_hours", due_hours))
    owner = _member(response.workspace_id, rules.followup_owner_id) or _member(
        response.workspace_id, response.agent_id
    )
    return owner, due_hours


def _followup_inbox(rules: SurveySettings) -> Inbox:
    inbox = rules.followup_inbox
    if inbox is not None and inbox.is_active:
        return inbox
    inbox = inbox_services.inbox_create(
        workspace_id=rules.workspace_id,
        name=FOLLOWUP_INBOX_NAME,
        channel=Channel.API,
        actor=SYSTEM,
        routing=Inbox.Routing.MANUAL,
    )
    rules.followup_inbox = inbox
    rules.save(update_fields=["followup_inbox", "updated_at"])
    return inbox


def is_followup_inbox(*, workspace_id: int, inbox_id: int) -> bool:
    return SurveySettings.objects.filter(
        workspace_id=workspace_id, followup_inbox_id=inbox_id
    ).exists()


def response_follow_up(*, response: Response, now: dt.datetime | None = None) -> FollowUp | None:
    """Score the comment's sentiment (once) and open a follow-up when a rule fires. Idempotent:
    a response has at most one follow-up."""
    rules = settings_for(response.survey.workspace)
    if response.comment and not response.sentiment:
        response.sentiment = sentiment_of(response.comment, response.language)
        if response.sentiment:
            Response.objects.filter(pk=response.pk).update(sentiment=response.sentiment)
    reason = poor_reason(
        nps=response.nps_score,
        csat=response.csat_score,
        ces=response.ces_score,
        sentiment=response.sentiment,
        use_sentiment=rules.followup_on_negative_sentiment,
    )
    if reason is None:
        return None
    return followup_open(response=response, reason=reason, rules=rules, now=now)


def _case_text(response: Response) -> tuple[str, str]:
    scores = [
        f"{label} {value}"
        for label, value in (
            ("NPS", response.nps_score),
            ("CSAT", response.csat_score),
            ("CES", response.ces_score),
        )
        if value is not None
    ]
    headline = ", ".join(scores) or "negative comment"
    subject = f"Survey follow-up: {response.survey.name} ({headline})"
    body = response.comment or f"{headline}, no comment."
    return subject, body


def followup_open(
    *,
    response: Response,
    reason: str,
    rules: SurveySettings | None = None,
    now: dt.datetime | None = None,
) -> FollowUp:
    """Open the follow-up case of a response: a conversation in the workspace's follow-up
    inbox (channel "api", created on first use) holding the customer's answer, assigned to the
    owner the rules pick, due after the rule's hours. Returns the existing one if any."""
    existing = FollowUp.objects.filter(response=response).first()
    if existing is not None:
        return existing
    moment = now or timezone.now()
    rules = rules or settings_for(response.survey.workspace)
    owner, due_hours = pick_owner(rules=rules, response=response, reason=reason)
    inbox = _followup_inbox(rules)
    subject, body = _case_text(response)
    received = inbox_services.message_receive(
        inbox=inbox,
        customer=response.customer,
        text=body,
        subject=subject,
        provider_id=f"survey-response-{response.pk}",
        new_thread=True,
        occurred_at=moment,
        metadata={"survey_response_id": response.pk, "followup_reason": reason},
    )
    conversation = received.conversation
    if owner is not None:
        conversation = inbox_services.conversation_assign(
            conversation=conversation,
            assignee=owner,
            actor=SYSTEM,
            reason="survey follow-up rule",
        )
    followup = FollowUp.objects.create(
        workspace_id=response.workspace_id,
        response=response,
        customer=response.customer,
        reason=reason,
        conversation=conversation,
        owner=owner,
        due_at=moment + dt.timedelta(hours=due_hours),
        created_at=moment,
    )
    outbox.emit(
        workspace=response.survey.workspace,
        name="surveys.followup.opened",
        payload={
            "followup_id": followup.pk,
            "response_id": response.pk,
            "reason": reason,
            "owner_id": owner.pk if owner else None,
            "conversation_id": conversation.pk,
        },
    )
    return followup


def followup_record_contact(
    *, followup: FollowUp, actor: Actor, now: dt.datetime | None = None
) -> FollowUp:
    """The owner reached the customer (the first contact time is what is measured)."""
    if followup.status == FollowUp.Status.CLOSED:
        raise Conflict(_("The loop of this follow-up is already closed."))
    if followup.first_contact_at is None:
        followup.first_contact_at = now or timezone.now()
        followup.status = FollowUp.Status.CONTACTED
        followup.save(update_fields=["first_contact_at", "status", "updated_at"])
        audit_record(
            workspace=followup.workspace,
            actor=actor,
            action="survey.followup.contact",
            object_type="survey_followup",
            object_id=followup.pk,
            customer_id=followup.customer_id,
            changes={"first_contact_at": followup.first_contact_at.isoformat()},
        )
    return followup


def followup_assign(*, followup: FollowUp, owner: User, actor: Actor) -> FollowUp:
    if _member(followup.workspace_id, owner.pk) is None:
        raise ValidationFailed(
            _("The owner is not a member of this workspace."),
            field_errors={"owner_id": [_("Not a member.")]},
        )
    previous = followup.owner_id
    followup.owner = owner
    followup.save(update_fields=["owner", "updated_at"])
    if followup.conversation is not None:
        inbox_services.conversation_assign(
            conversation=followup.conversation,
            assignee=owner,
            actor=actor,
            reason="survey follow-up owner",
        )
    audit_record(
        workspace=followup.workspace,
        actor=actor,
        action="survey.followup.assign",
        object_type="survey_followup",
        object_id=followup.pk,
        customer_id=followup.customer_id,
        changes={"owner": [previous, owner.pk]},
    )
    return followup


def followup_close_loop(
    *,
    followup: FollowUp,
    root_cause: str,
    action_taken: str,
    message: str,
    actor: Actor,
    now: dt.datetime | None = None,
) -> FollowUp:
    """Close the loop: record the root cause and the action taken, and tell the customer what
    changed (`message`, sent by email after commit; empty: nobody is told, e.g. when the owner
    told them on the phone). The follow-up conversation holds the message and is resolved."""
    errors: dict[str, list[str]] = {}
    if root_cause not in FollowUp.RootCause.values or not root_cause:
        errors["root_cause"] = [
            _("Choose one of: %(v)s.") % {"v": ", ".join(v for v in FollowUp.RootCause.values if v)}
        ]
    if not action_taken.strip():
        errors["action_taken"] = [_("Say what was done.")]
    if len(message) > 10000:
        errors["message"] = [_("At most 10000 characters.")]
    if errors:
        raise ValidationFailed(_("The follow-up cannot be closed yet."), field_errors=errors)
    if followup.status == FollowUp.Status.CLOSED:
        raise Conflict(_("The loop of this follow-up is already closed."))
    moment = now or timezone.now()
    followup.root_cause = root_cause
    followup.action_taken = action_taken.strip()
    followup.closing_message = message.strip()
    followup.status = FollowUp.Status.CLOSED
    followup.closed_at = moment
    followup.first_contact_at = followup.first_contact_at or moment
    followup.save()
    conversation = followup.conversation
    if conversation is not None:
        if (
            followup.closing_message
            and actor.user is not None
            and _member(followup.workspace_id, actor.user.pk)
        ):
            # A note, not a reply: the follow-up inbox has no connector; the email job sends it.
            inbox_services.note_add(
                conversation=conversation,
                author=actor.user,
                actor=actor,
                text=f"Message to the customer:\n\n{followup.closing_message}",
            )
        inbox_services.conversation_set_status(
            conversation=conversation, status="resolved", actor=actor, reason="loop closed"
        )
    activity_record(
        customer=followup.customer,
        kind=Activity.Kind.NOTE,
        title=f"Survey feedback followed up: {followup.get_root_cause_display()}",
        body=followup.action_taken,
        actor=actor,
        data={
            "followup_id": followup.pk,
            "response_id": followup.response_id,
            "root_cause": root_cause,
        },
        source_type="survey_followup",
        source_id=str(followup.pk),
    )
    audit_record(
        workspace=followup.workspace,
        actor=actor,
        action="survey.followup.close",
        object_type="survey_followup",
        object_id=followup.pk,
        customer_id=followup.customer_id,
        changes={
            "root_cause": root_cause,
            "action_taken": followup.action_taken,
            "message": bool(followup.closing_message),
        },
    )
    outbox.emit(
        workspace=followup.workspace,
        name="surveys.followup.closed",
        payload={
            "followup_id": followup.pk,
            "root_cause": root_cause,
            "notify": bool(followup.closing_message),
        },
    )
    if followup.closing_message:
        followup_id = followup.pk
        transaction.on_commit(lambda: _enqueue_notify(followup_id))
    return followup


def _enqueue_notify(followup_id: int) -> None:
    from ascolto.surveys.tasks import send_followup_message

    try:
        send_followup_message(followup_id)
    except Exception:
        logger.exception("Could not enqueue the closing message of follow-up %s", followup_id)


def followup_notify(*, followup_id: int, now: dt.datetime | None = None) -> bool:
    """Email the closing message of a closed follow-up, once (the row is locked). Needs the
    customer's email and service consent on email. Returns whether it was sent; a mail server
    error propagates, so the job retries it."""
    followup = (
        FollowUp.objects.select_for_update()
        .select_related("customer", "response", "response__survey")
        .filter(pk=followup_id, status=FollowUp.Status.CLOSED, notified_at__isnull=True)
        .first()
    )
    if followup is None or not followup.closing_message:
        return False
    customer = followup.customer
    address = email_address(customer)
    if address is None or not consent_allows(customer=customer, purpose="service", channel="email"):
        followup.notify_error = "no email address or no consent for service email"
        followup.save(update_fields=["notify_error", "updated_at"])
        return False
    message = emails.closing_email(
        to=address,
        language=followup.response.language,
        customer_name=customer.name,
        title=followup.response.survey.name,
        body=followup.closing_message,
    )
    message.send(fail_silently=False)
    followup.notified_at = now or timezone.now()
    followup.notify_error = ""
    followup.save(update_fields=["notified_at", "notify_error", "updated_at"])
    return True
