"""Invitations: who is asked (sampling, suppression, consent), links, sending, reminders, bounces.

Sending talks to the mail server, so it runs in jobs (tasks.py), one invitation per transaction,
with the invitation row locked: two workers never send the same invitation, and a failed send is
retried a few times, then recorded as failed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ascolto.accounts.models import Team, User
from ascolto.core import outbox
from ascolto.core.actors import Actor
from ascolto.core.audit import audit_record
from ascolto.core.errors import ValidationFailed
from ascolto.customers.models import Consent, Customer, Identity, Order
from ascolto.customers.selectors import consent_allows
from ascolto.inbox.models import Conversation
from ascolto.surveys import emails, tokens
from ascolto.surveys.models import Invitation, Response, Survey, SurveySettings
from ascolto.surveys.services.surveys import settings_for

logger = logging.getLogger(__name__)

Skip = Invitation.SkipReason
# Invitations sent as a message in the customer's conversation (services/distribution.py).
MESSAGE_CHANNELS = (Invitation.Channel.SMS, Invitation.Channel.WHATSAPP)
MAX_SEND_ATTEMPTS = 3
RETRY_AFTER = dt.timedelta(minutes=10)


def survey_consent(customer: Customer, channel: str) -> bool:
    """Whether the customer agreed to surveys on the invitation's channel. An email invitation
    needs consent for email (or "any"); a link is handed out by the caller on a channel of
    their choosing, so it needs consent for "any" channel or, absent that decision, for at least
    one channel."""
    if channel in (Invitation.Channel.EMAIL, *MESSAGE_CHANNELS):
        return consent_allows(customer=customer, purpose="surveys", channel=channel)
    decisions = dict(
        Consent.objects.filter(customer=customer, purpose="surveys").values_list(
            "channel", "granted"
        )
    )
    if "any" in decisions:
        return bool(decisions["any"])
    return any(decisions.values())


def sampled(survey: Survey, source_key: str) -> bool:
    """Whether this trigger falls in the survey's sample. Deterministic per (survey, source), so
    the decision never changes for a re-delivered event."""
    if survey.sampling_rate >= 1:
        return True
    if survey.sampling_rate <= 0:
        return False
    digest = hashlib.sha256(f"{survey.pk}:{source_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < survey.sampling_rate


def email_address(customer: Customer) -> str | None:
    """The customer's email for surveys: the primary one, else verified, else the oldest."""
    identity = (
        Identity.objects.filter(
            workspace_id=customer.workspace_id, customer=customer, kind=Identity.Kind.EMAIL
        )
        .order_by("-is_primary", "-verified", "id")
        .first()
    )
    return identity.value if identity is not None else None


def recently_asked(
    *, customer: Customer, days: int, now: dt.datetime, exclude_id: int | None = None
) -> bool:
    """Whether the customer was sent (or is about to be sent) a survey within `days`."""
    if days <= 0:
        return False
    since = now - dt.timedelta(days=days)
    qs = Invitation.objects.filter(workspace_id=customer.workspace_id, customer=customer).filter(
        Q(status=Invitation.Status.SCHEDULED)
        | Q(status__in=[Invitation.Status.SENT, Invitation.Status.BOUNCED], sent_at__gte=since)
    )
    if exclude_id is not None:
        qs = qs.exclude(pk=exclude_id)
    return qs.exists()


def _language(survey: Survey, customer: Customer) -> str:
    available = survey.languages
    for candidate in (customer.locale[:2].lower(), customer.workspace.default_locale[:2].lower()):
        if candidate in available:
            return candidate
    return survey.default_language


def _skip_reason(
    *,
    survey: Survey,
    customer: Customer,
    channel: str,
    source_key: str,
    days: int,
    now: dt.datetime,
    conversation: Conversation | None = None,
) -> str:
    if not survey.is_active:
        return Skip.INACTIVE
    if not sampled(survey, source_key):
        return Skip.SAMPLING
    if not survey_consent(customer, channel):
        return Skip.NO_CONSENT
    if channel == Invitation.Channel.EMAIL and email_address(customer) is None:
        return Skip.NO_ADDRESS
    if channel in MESSAGE_CHANNELS and (conversation is None or conversation.channel != channel):
        return Skip.NO_ADDRESS
    if recently_asked(customer=customer, days=days, now=now):
        return Skip.SUPPRESSED
    return Skip.NONE


def invitation_create(
    *,
    survey: Survey,
    customer: Customer,
    source_key: str = "",
    channel: str = Invitation.Channel.EMAIL,
    send_after: dt.datetime | None = None,
    conversation: Conversation | None = None,
    order: Order | None = None,
    agent: User | None = None,
    team: Team | None = None,
    context: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> Invitation:
    """Invite a customer, once per (survey, source_key): a second call with the same source
    returns the first invitation unchanged, so a re-delivered event never invites twice.

    The invitation is created `scheduled` (sent by the job once `send_after` passes) or
    `skipped` with its reason: survey inactive, not sampled, no survey consent for the channel,
    no address, or asked within the workspace's suppression window. Skipped rows are kept: they
    make the decision idempotent and the sampling measurable. Locks the customer row so two
    triggers for the same customer cannot both pass suppression.
    """
    if channel not in Invitation.Channel.values:
        raise ValidationFailed(
            _("Unknown channel."),
            field_errors={
                "channel": [
                    _("Choose one of: %(v)s.") % {"v": ", ".join(Invitation.Channel.values)}
                ]
            },
        )
    if customer.workspace_id != survey.workspace_id:
        raise ValidationFailed(
            _("The customer belongs to another workspace."),
            field_errors={"customer_id": [_("No such customer.")]},
        )
    key = (source_key or f"api:{uuid.uuid4().hex}")[:100]
    existing = Invitation.objects.filter(survey=survey, source_key=key).first()
    if existing is not None:
        return existing
    moment = now or timezone.now()
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.merged_into_id is not None:
        customer = Customer.objects.select_for_update().get(pk=customer.merged_into_id)
    rules = settings_for(survey.workspace)
    reason = _skip_reason(
        survey=survey,
        customer=customer,
        channel=channel,
        source_key=key,
        days=rules.suppression_days,
        now=moment,
        conversation=conversation,
    )
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                workspace_id=survey.workspace_id,
                survey=survey,
                customer=customer,
                channel=channel,
                source_key=key,
                language=_language(survey, customer),
                status=Invitation.Status.SKIPPED if reason else Invitation.Status.SCHEDULED,
                skip_reason=reason,
                send_after=send_after or moment,
                conversation=conversation,
                order=order,
                agent=agent,
                team=team,
                context_channel=conversation.channel if conversation is not None else "",
                context=context or {},
            )
    except IntegrityError:
        # A concurrent delivery of the same trigger won the race.
        found = Invitation.objects.filter(survey=survey, source_key=key).first()
        if found is None:
            raise
        return found
    return invitation


def invitation_issue_link(*, invitation: Invitation, now: dt.datetime | None = None) -> str:
    """A new signed link for the invitation (earlier links keep working up to MAX_DIGESTS).
    Starts the expiry clock on first issue. For link invitations this is the sending."""
    if invitation.status == Invitation.Status.SKIPPED:
        raise ValidationFailed(
            _("This invitation was skipped (%(reason)s); it has no link.")
            % {"reason": invitation.skip_reason}
        )
    moment = now or timezone.now()
    token, digest = tokens.make_token(invitation.pk)
    invitation.token_digests = [*invitation.token_digests, digest][-tokens.MAX_DIGESTS :]
    fields = ["token_digests", "updated_at"]
    if invitation.expires_at is None:
        invitation.expires_at = moment + dt.timedelta(days=invitation.survey.expiry_days)
        fields.append("expires_at")
    if invitation.channel == Invitation.Channel.LINK and invitation.sent_at is None:
        invitation.sent_at = moment
        invitation.status = Invitation.Status.SENT
        fields += ["sent_at", "status"]
    invitation.save(update_fields=fields)
    return token


def invitation_send(*, invitation: Invitation, now: dt.datetime | None = None) -> bool:
    """Send one scheduled email invitation. The caller holds the row lock (see send_due).

    Consent and the address are checked again (they may have changed while it waited). On a
    mail server error the attempt is counted and retried later; after MAX_SEND_ATTEMPTS the
    invitation is `failed`. Returns whether the email went out.
    """
    moment = now or timezone.now()
    if invitation.channel in MESSAGE_CHANNELS:
        from ascolto.surveys.services.distribution import invitation_send_message

        return invitation_send_message(invitation=invitation, now=moment)
    if (
        invitation.status != Invitation.Status.SCHEDULED
        or invitation.channel != Invitation.Channel.EMAIL
    ):
        return False
    survey = invitation.survey
    customer = invitation.customer
    reason = ""
    if not survey.is_active:
        reason = Skip.INACTIVE
    elif not survey_consent(customer, invitation.channel):
        reason = Skip.NO_CONSENT
    address = email_address(customer)
    if not reason and address is None:
        reason = Skip.NO_ADDRESS
    if reason:
        invitation.status, invitation.skip_reason = Invitation.Status.SKIPPED, reason
        invitation.save(update_fields=["status", "skip_reason", "updated_at"])
        return False
    assert address is not None
    token = invitation_issue_link(invitation=invitation, now=moment)
    first = survey.questions.order_by("position").first()
    message = emails.invitation_email(invitation=invitation, token=token, to=address, first=first)
    invitation.attempts += 1
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # the mail server's errors are many; each is recorded and retried
        logger.warning("Survey invitation %s not sent: %s", invitation.pk, exc)
        invitation.last_error = repr(exc)[:2000]
        if invitation.attempts >= MAX_SEND_ATTEMPTS:
            invitation.status = Invitation.Status.FAILED
        else:
            invitation.send_after = moment + RETRY_AFTER
        invitation.save(
            update_fields=["attempts", "last_error", "status", "send_after", "updated_at"]
        )
        return False
    invitation.status = Invitation.Status.SENT
    invitation.sent_at = moment
    invitation.last_error = ""
    invitation.save(update_fields=["attempts", "last_error", "status", "sent_at", "updated_at"])
    outbox.emit(
        workspace=survey.workspace,
        name="surveys.invitation.sent",
        payload={
            "invitation_id": invitation.pk,
            "survey_id": survey.pk,
            "customer_id": customer.pk,
            "channel": invitation.channel,
        },
    )
    return True


def _locked(invitation_id: int) -> Invitation | None:
    return (
        Invitation.objects.select_for_update(skip_locked=settings.IS_POSTGRES)
        .select_related("survey", "survey__workspace", "customer", "customer__workspace")
        .filter(pk=invitation_id)
        .first()
    )


def due_invitation_ids(*, now: dt.datetime | None = None, limit: int = 200) -> list[int]:
    """Scheduled email, SMS and WhatsApp invitations whose time has come, oldest first (a link
    invitation is "sent" when its link is issued)."""
    moment = now or timezone.now()
    return list(
        Invitation.objects.filter(
            status=Invitation.Status.SCHEDULED,
            channel__in=[Invitation.Channel.EMAIL, *MESSAGE_CHANNELS],
            send_after__lte=moment,
        )
        .order_by("send_after", "id")
        .values_list("id", flat=True)[:limit]
    )


def invitation_send_due(*, invitation_id: int, now: dt.datetime | None = None) -> bool:
    """Lock and send one due invitation (run it in a transaction of its own). A row another
    worker holds is skipped on PostgreSQL; a row already sent is left alone."""
    invitation = _locked(invitation_id)
    return invitation is not None and invitation_send(invitation=invitation, now=now)


def reminder_candidate_ids(*, now: dt.datetime | None = None, limit: int = 200) -> list[int]:
    """Email invitations due their one reminder: unanswered, unexpired, sent at least the
    workspace's `reminder_after_hours` ago (0 turns reminders off)."""
    moment = now or timezone.now()
    hours_by_workspace = dict(
        SurveySettings.objects.values_list("workspace_id", "reminder_after_hours")
    )
    default_hours = int(SurveySettings._meta.get_field("reminder_after_hours").get_default())
    shortest = min([h for h in [*hours_by_workspace.values(), default_hours] if h > 0], default=0)
    if shortest <= 0:
        return []
    rows = (
        Invitation.objects.filter(
            status=Invitation.Status.SENT,
            channel=Invitation.Channel.EMAIL,
            reminded_at__isnull=True,
            answered_at__isnull=True,
            sent_at__lte=moment - dt.timedelta(hours=shortest),
            expires_at__gt=moment,
        )
        .order_by("sent_at", "id")
        .values_list("id", "workspace_id", "sent_at")[:limit]
    )
    due: list[int] = []
    for invitation_id, workspace_id, sent_at in rows:
        hours = hours_by_workspace.get(workspace_id, default_hours)
        if hours > 0 and sent_at is not None and sent_at <= moment - dt.timedelta(hours=hours):
            due.append(invitation_id)
    return due


def invitation_remind(*, invitation_id: int, now: dt.datetime | None = None) -> bool:
    """Lock and send the reminder of one invitation (in a transaction of its own). The
    reminder carries a fresh link; the first one keeps working. Returns whether it went out."""
    invitation = _locked(invitation_id)
    return invitation is not None and _remind(invitation, now or timezone.now())


def _remind(invitation: Invitation, moment: dt.datetime) -> bool:
    if (
        invitation.status != Invitation.Status.SENT
        or invitation.reminded_at is not None
        or invitation.answered_at is not None
    ):
        return False
    customer = invitation.customer
    address = email_address(customer)
    if address is None or not survey_consent(customer, invitation.channel):
        return False
    token = invitation_issue_link(invitation=invitation, now=moment)
    first = invitation.survey.questions.order_by("position").first()
    message = emails.invitation_email(
        invitation=invitation, token=token, to=address, first=first, reminder=True
    )
    # Marked before sending: a reminder is a nicety, and sending one twice is worse than none.
    invitation.reminded_at = moment
    invitation.save(update_fields=["reminded_at", "updated_at"])
    try:
        message.send(fail_silently=False)
    except Exception as exc:
        logger.warning("Survey reminder %s not sent: %s", invitation.pk, exc)
        return False
    return True


def invitation_mark_opened(*, invitation: Invitation, now: dt.datetime | None = None) -> None:
    """Record the first time the survey page was opened."""
    if invitation.opened_at is None:
        invitation.opened_at = now or timezone.now()
        Invitation.objects.filter(pk=invitation.pk, opened_at__isnull=True).update(
            opened_at=invitation.opened_at
        )


def invitation_mark_bounced(
    *, invitation: Invitation, reason: str, actor: Actor, now: dt.datetime | None = None
) -> Invitation:
    """Record that the invitation email bounced (the mail connector or an API client reports
    it). Idempotent: a second report keeps the first time."""
    if invitation.channel != Invitation.Channel.EMAIL:
        raise ValidationFailed(_("Only email invitations can bounce."))
    if invitation.bounced_at is not None:
        return invitation
    invitation.bounced_at = now or timezone.now()
    invitation.bounce_reason = reason[:300]
    invitation.status = Invitation.Status.BOUNCED
    invitation.save(update_fields=["bounced_at", "bounce_reason", "status", "updated_at"])
    audit_record(
        workspace=invitation.survey.workspace,
        actor=actor,
        action="survey.invitation.bounced",
        object_type="survey_invitation",
        object_id=invitation.pk,
        customer_id=invitation.customer_id,
        changes={"reason": reason[:300]},
    )
    return invitation


def relational_period(survey: Survey, now: dt.datetime) -> int:
    """The index of the current relational period (every N days since the epoch)."""
    return (now - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).days // max(
        1, survey.relational_every_days
    )


def relational_invite(*, survey: Survey, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Invite up to `limit` customers not yet invited in this relational period (those with an
    email address, not merged away), in the caller's transaction. Returns how many invitations
    were scheduled; every decision, skipped ones included, is recorded once per customer and
    period."""
    moment = now or timezone.now()
    period = relational_period(survey, moment)
    prefix = f"relational:{period}:"
    already = Invitation.objects.filter(survey=survey, source_key__startswith=prefix).values(
        "customer_id"
    )
    with_email = Identity.objects.filter(
        workspace_id=survey.workspace_id, kind=Identity.Kind.EMAIL
    ).values("customer_id")
    candidates = list(
        Customer.objects.filter(
            workspace_id=survey.workspace_id, merged_into__isnull=True, pk__in=with_email
        )
        .exclude(pk__in=already)
        .order_by("pk")
        .select_related("workspace")[:limit]
    )
    scheduled = 0
    for customer in candidates:
        invitation = invitation_create(
            survey=survey, customer=customer, source_key=f"{prefix}{customer.pk}", now=moment
        )
        if invitation.status == Invitation.Status.SCHEDULED:
            scheduled += 1
    return scheduled


def invitation_answered(*, invitation: Invitation, now: dt.datetime) -> None:
    """Record the first answer on the invitation (no reminder after it)."""
    if invitation.answered_at is None:
        invitation.answered_at = now
        Invitation.objects.filter(pk=invitation.pk, answered_at__isnull=True).update(
            answered_at=now, opened_at=invitation.opened_at or now, updated_at=timezone.now()
        )


def has_response(invitation: Invitation) -> bool:
    return Response.objects.filter(invitation=invitation).exists()
