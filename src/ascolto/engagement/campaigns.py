"""Campaigns: one-off sends of a template to the customers an audience condition selects.

Life cycle: draft -> (scheduled ->) running -> completed, with paused <-> running and cancelled
from any state before completed. Starting builds the recipient list once (one row per
customer, held-out customers marked by a deterministic hash), then a job works through the
pending rows in batches.

No double sends: a recipient leaves `pending` in the same transaction as its message is written,
and that transaction starts by claiming the row with a conditional update (`status = pending`),
so a second worker, a re-run batch or a resumed job finds nothing left to claim. A worker that
dies mid-send rolls its transaction back: the row is still pending and no message exists.

Guards are the rules' own (consent, quiet hours, the frequency cap counted over rules and
campaigns); the customer row is locked while the cap is checked and the message written, so two
senders cannot both take the customer's last slot. The caller owns transactions except in
`campaign_run`, which is the job's body and commits per recipient.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Min
from django.utils import timezone

from ascolto.core import outbox
from ascolto.core.actors import Actor
from ascolto.core.audit import audit_record
from ascolto.core.errors import Conflict, NotFound, ValidationFailed
from ascolto.core.jobs import job_create, job_finish, job_progress, job_start
from ascolto.core.models import Job, Workspace
from ascolto.customers.models import Consent, ConsentPurpose, Customer
from ascolto.engagement import guards, holdout, outbound, rules, services, templates_render
from ascolto.engagement.models import Campaign, CampaignRecipient, MessageTemplate
from ascolto.inbox.models import Channel, Inbox

logger = logging.getLogger(__name__)

JOB_KIND = "engagement.campaign"
MAX_ATTEMPTS = 3
RETRY_DELAY = dt.timedelta(minutes=5)
BUILD_CHUNK = 2000
STARTABLE = (Campaign.Status.DRAFT,)
CANCELLABLE = (
    Campaign.Status.DRAFT,
    Campaign.Status.SCHEDULED,
    Campaign.Status.RUNNING,
    Campaign.Status.PAUSED,
)


# --- Audience -------------------------------------------------------------------------------


def compile_audience(audience: Any) -> rules.Predicate:
    """The audience's predicate; ValidationFailed names the path under `audience`."""
    try:
        return rules.compile_conditions(audience)
    except ValidationFailed as exc:
        errors = {
            "audience" + key.removeprefix("conditions"): value
            for key, value in (exc.field_errors or {}).items()
        }
        raise ValidationFailed("The audience is not valid.", field_errors=errors) from exc


def audience_context(customer: Customer, consent_rows: list[tuple[str, bool]]) -> dict[str, Any]:
    """What audience conditions see: `customer.*` and `consent.<purpose>`, as rules do."""
    consents: dict[str, bool] = {}
    for purpose, granted in consent_rows:
        consents[purpose] = consents.get(purpose, False) or granted
    return {
        "customer": {
            "name": customer.name,
            "locale": customer.locale,
            "timezone": customer.timezone,
            "value_tier": customer.value_tier,
            "orders_count": customer.orders_count,
            "lifetime_spend": customer.lifetime_spend,
            "attributes": customer.attributes or {},
        },
        "event": {},
        "order": {},
        "consent": consents,
    }


def audience_iter(*, workspace_id: int, audience: Any) -> Iterator[Customer]:
    """The workspace's customers (not merged away) the audience selects, by id, in chunks."""
    predicate = compile_audience(audience)
    last_id = 0
    while True:
        chunk = list(
            Customer.objects.filter(
                workspace_id=workspace_id, merged_into__isnull=True, pk__gt=last_id
            )
            .only(
                "id",
                "workspace_id",
                "name",
                "locale",
                "timezone",
                "value_tier",
                "orders_count",
                "lifetime_spend",
                "attributes",
            )
            .order_by("id")[:BUILD_CHUNK]
        )
        if not chunk:
            return
        last_id = chunk[-1].pk
        consents: dict[int, list[tuple[str, bool]]] = {}
        for customer_id, purpose, granted in Consent.objects.filter(
            customer_id__in=[c.pk for c in chunk]
        ).values_list("customer_id", "purpose", "granted"):
            consents.setdefault(customer_id, []).append((purpose, granted))
        for customer in chunk:
            if predicate(audience_context(customer, consents.get(customer.pk, []))):
                yield customer


@dataclass
class AudiencePreview:
    count: int
    sample: list[Customer] = field(default_factory=list)


def audience_preview(*, workspace: Workspace, audience: Any, sample: int = 10) -> AudiencePreview:
    preview = AudiencePreview(count=0)
    for customer in audience_iter(workspace_id=workspace.pk, audience=audience):
        preview.count += 1
        if len(preview.sample) < sample:
            preview.sample.append(customer)
    return preview


# --- Writes ---------------------------------------------------------------------------------


def campaign_create(
    *,
    workspace: Workspace,
    actor: Actor,
    name: str,
    template_key: str,
    audience: dict[str, Any] | None = None,
    purpose: str = ConsentPurpose.MARKETING,
    channel: str = Campaign.PREFERRED,
    holdout_percent: int = 0,
    throttle_per_minute: int = 0,
    conversion_window_days: int = 7,
) -> Campaign:
    """A draft campaign. Raises ValidationFailed naming each wrong field."""
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = ["Required."]
    if not MessageTemplate.objects.filter(workspace=workspace, key=template_key).exists():
        errors["template_key"] = ["No message template with this key."]
    if purpose not in (ConsentPurpose.SERVICE, ConsentPurpose.MARKETING):
        errors["purpose"] = ["service or marketing."]
    if channel != Campaign.PREFERRED and channel not in Channel.values:
        errors["channel"] = ["preferred, or an inbox channel."]
    if not 0 <= holdout_percent <= 50:
        errors["holdout_percent"] = ["From 0 to 50."]
    if throttle_per_minute < 0:
        errors["throttle_per_minute"] = ["0 (no limit) or more."]
    if not 1 <= conversion_window_days <= 90:
        errors["conversion_window_days"] = ["From 1 to 90."]
    if errors:
        raise ValidationFailed("The campaign is not valid.", field_errors=errors)
    compile_audience(audience or {})
    campaign = Campaign.objects.create(
        workspace=workspace,
        name=name.strip()[:200],
        template_key=template_key,
        audience=audience or {},
        purpose=purpose,
        channel=channel,
        holdout_percent=holdout_percent,
        throttle_per_minute=throttle_per_minute,
        conversion_window_days=conversion_window_days,
        created_by=actor.user,
    )
    audit_record(
        workspace=workspace,
        actor=actor,
        action="engagement.campaign.create",
        object_type="engagement.campaign",
        object_id=campaign.pk,
        changes={"name": campaign.name, "template_key": template_key},
    )
    return campaign


def _locked(campaign: Campaign) -> Campaign:
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


def _set_status(campaign: Campaign, status: str, actor: Actor, **extra: Any) -> None:
    old = campaign.status
    campaign.status = status
    for key, value in extra.items():
        setattr(campaign, key, value)
    campaign.save()
    audit_record(
        workspace=campaign.workspace,
        actor=actor,
        action=f"engagement.campaign.{status}",
        object_type="engagement.campaign",
        object_id=campaign.pk,
        changes={"status": [old, status]},
    )
    outbox.emit(
        workspace=campaign.workspace,
        name="engagement.campaign.status_changed",
        payload={"campaign_id": campaign.pk, "status": status, "previous": old},
    )


def _new_job(campaign: Campaign, actor: Actor) -> Job:
    job = job_create(
        workspace=campaign.workspace,
        kind=JOB_KIND,
        params={"campaign_id": campaign.pk},
        created_by_id=actor.user.pk if actor.user is not None else None,
    )
    campaign.job = job
    return job


def campaign_start(*, campaign: Campaign, actor: Actor, at: dt.datetime | None = None) -> Job:
    """Start a draft now (running) or at `at` (scheduled); returns the job to enqueue after
    commit. Raises Conflict when the campaign is not a draft."""
    campaign = _locked(campaign)
    if campaign.status not in STARTABLE:
        raise Conflict(f"The campaign is {campaign.status}; only a draft can be started.")
    now = timezone.now()
    job = _new_job(campaign, actor)
    if at is not None and at > now:
        _set_status(campaign, Campaign.Status.SCHEDULED, actor, scheduled_for=at)
    else:
        _set_status(campaign, Campaign.Status.RUNNING, actor, started_at=now)
    return job


def campaign_pause(*, campaign: Campaign, actor: Actor) -> Campaign:
    """Pause a running or scheduled campaign: the job stops before its next batch."""
    campaign = _locked(campaign)
    if campaign.status not in (Campaign.Status.RUNNING, Campaign.Status.SCHEDULED):
        raise Conflict(f"The campaign is {campaign.status}; only a running one can be paused.")
    _set_status(campaign, Campaign.Status.PAUSED, actor)
    return campaign


def campaign_resume(*, campaign: Campaign, actor: Actor) -> Job:
    """Resume a paused campaign where it stopped; returns the job to enqueue after commit."""
    campaign = _locked(campaign)
    if campaign.status != Campaign.Status.PAUSED:
        raise Conflict(f"The campaign is {campaign.status}; only a paused one can be resumed.")
    job = _new_job(campaign, actor)
    _set_status(
        campaign, Campaign.Status.RUNNING, actor, started_at=campaign.started_at or timezone.now()
    )
    return job


def campaign_cancel(*, campaign: Campaign, actor: Actor) -> Campaign:
    """Cancel for good: nobody still pending gets the message."""
    campaign = _locked(campaign)
    if campaign.status not in CANCELLABLE:
        raise Conflict(f"The campaign is {campaign.status}; it can no longer be cancelled.")
    campaign.recipients.filter(status=CampaignRecipient.Status.PENDING).update(
        status=CampaignRecipient.Status.SKIPPED, reason="Campaign cancelled."
    )
    _set_status(campaign, Campaign.Status.CANCELLED, actor, finished_at=timezone.now())
    refresh_counts(campaign)
    return campaign


def refresh_counts(campaign: Campaign) -> None:
    by_status = dict(
        campaign.recipients.values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    counts = {
        "targeted_count": sum(by_status.values()),
        "held_out_count": by_status.get(CampaignRecipient.Status.HELD_OUT, 0),
        "sent_count": by_status.get(CampaignRecipient.Status.SENT, 0),
        "skipped_count": by_status.get(CampaignRecipient.Status.SKIPPED, 0),
        "failed_count": by_status.get(CampaignRecipient.Status.FAILED, 0),
    }
    Campaign.objects.filter(pk=campaign.pk).update(**counts)
    for key, value in counts.items():
        setattr(campaign, key, value)


def audience_build(*, campaign: Campaign) -> int:
    """Write one recipient row per customer of the audience, once (a re-run adds nothing)."""
    if campaign.audience_built_at is not None:
        return campaign.targeted_count
    rows: list[CampaignRecipient] = []
    for customer in audience_iter(workspace_id=campaign.workspace_id, audience=campaign.audience):
        held = holdout.is_held_out(
            kind="campaign",
            owner_id=campaign.pk,
            customer_id=customer.pk,
            percent=campaign.holdout_percent,
        )
        rows.append(
            CampaignRecipient(
                workspace_id=campaign.workspace_id,
                campaign=campaign,
                customer_id=customer.pk,
                status=CampaignRecipient.Status.HELD_OUT
                if held
                else CampaignRecipient.Status.PENDING,
                reason=holdout.HELD_OUT_REASON if held else "",
            )
        )
        if len(rows) >= BUILD_CHUNK:
            CampaignRecipient.objects.bulk_create(rows, ignore_conflicts=True)
            rows = []
    CampaignRecipient.objects.bulk_create(rows, ignore_conflicts=True)
    campaign.audience_built_at = timezone.now()
    Campaign.objects.filter(pk=campaign.pk).update(audience_built_at=campaign.audience_built_at)
    refresh_counts(campaign)
    return campaign.targeted_count


# --- Sending --------------------------------------------------------------------------------


@dataclass
class RunState:
    """What one run of the job remembers between recipients: templates, inboxes, throttle."""

    campaign: Campaign
    now: dt.datetime
    config: Any
    templates: dict[tuple[str, str], MessageTemplate | None] = field(default_factory=dict)
    channel_inbox: Inbox | None = None
    inboxes: dict[str, Inbox | None] = field(default_factory=dict)
    window_counts: dict[str, int] = field(default_factory=dict)
    throttled: bool = False


def _inbox_for(state: RunState, customer: Customer) -> Inbox | None:
    campaign = state.campaign
    if campaign.channel == Campaign.PREFERRED:
        wanted = (customer.attributes or {}).get("preferred_channel")
        if isinstance(wanted, str) and wanted in Channel.values:
            if wanted not in state.inboxes:
                state.inboxes[wanted] = (
                    Inbox.objects.filter(
                        workspace_id=campaign.workspace_id, channel=wanted, is_active=True
                    )
                    .order_by("id")
                    .first()
                )
            if state.inboxes[wanted] is not None:
                return state.inboxes[wanted]
        return services.preferred_inbox(customer)
    if state.channel_inbox is None:
        state.channel_inbox = (
            Inbox.objects.filter(
                workspace_id=campaign.workspace_id, channel=campaign.channel, is_active=True
            )
            .order_by("id")
            .first()
        )
    return state.channel_inbox


def _template(state: RunState, channel: str, language: str) -> MessageTemplate | None:
    key = (channel, language)
    if key not in state.templates:
        try:
            state.templates[key] = services.template_for(
                workspace_id=state.campaign.workspace_id,
                key=state.campaign.template_key,
                channel=channel,
                language=language,
            )
        except NotFound:
            state.templates[key] = None
    return state.templates[key]


def _throttle_allows(state: RunState, channel: str) -> bool:
    limit = state.campaign.throttle_per_minute
    if not limit:
        return True
    if channel not in state.window_counts:
        state.window_counts[channel] = CampaignRecipient.objects.filter(
            campaign=state.campaign,
            channel=channel,
            status=CampaignRecipient.Status.SENT,
            sent_at__gt=state.now - dt.timedelta(minutes=1),
        ).count()
    return state.window_counts[channel] < limit


def _close(recipient: CampaignRecipient, status: str, reason: str = "") -> str:
    recipient.status, recipient.reason = status, reason[:300]
    recipient.save()
    return status


def recipient_send(*, recipient: CampaignRecipient, state: RunState, actor: Actor) -> str:
    """Send the campaign to one pending recipient (loaded with its customer). Returns the
    outcome: sent / skipped / failed / deferred (quiet hours or a retry) / throttled / taken
    (not pending any more: another run had it). Runs in the caller's transaction when there
    is one (a batch), else in its own; the claim and the message commit together."""
    campaign = state.campaign
    customer = recipient.customer
    inbox = _inbox_for(state, customer)
    if inbox is not None and not _throttle_allows(state, inbox.channel):
        state.throttled = True
        return "throttled"
    recipient_id = recipient.pk
    with transaction.atomic(savepoint=False):
        claimed = CampaignRecipient.objects.filter(
            pk=recipient_id, status=CampaignRecipient.Status.PENDING
        ).update(attempts=F("attempts") + 1)
        if not claimed:
            return "taken"
        recipient.attempts += 1
        # Serialises the cap check and the send with every other sender to this customer.
        Customer.objects.select_for_update().filter(pk=customer.pk).first()
        if inbox is None:
            return _close(
                recipient, CampaignRecipient.Status.SKIPPED, "No channel to reach the customer."
            )
        recipient.channel = inbox.channel
        template = _template(state, inbox.channel, templates_render.customer_language(customer))
        if template is None:
            return _close(
                recipient, CampaignRecipient.Status.SKIPPED, "No message template for the channel."
            )
        if not guards.consent_allows(
            customer=customer, purpose=campaign.purpose, channel=inbox.channel
        ):
            return _close(
                recipient,
                CampaignRecipient.Status.SKIPPED,
                f"No {campaign.purpose} consent on {inbox.channel}.",
            )
        if guards.over_cap(customer=customer, config=state.config, at=state.now):
            return _close(recipient, CampaignRecipient.Status.SKIPPED, "Frequency cap reached.")
        quiet = guards.quiet_until(customer=customer, config=state.config, at=state.now)
        if quiet is not None:
            recipient.scheduled_for, recipient.reason = quiet, "Quiet hours."
            recipient.attempts -= 1  # a deferral is not a failed attempt
            recipient.save()
            return "deferred"
        rendered = templates_render.render(
            body=template.body,
            subject=template.subject,
            customer=customer,
            order=None,
            event_payload={},
        )
        try:
            with transaction.atomic():
                if campaign.created_by is None:
                    raise ValidationFailed("The campaign has no author to send in the name of.")
                message = outbound.proactive_message_send(
                    inbox=inbox,
                    customer=customer,
                    author=campaign.created_by,
                    actor=actor,
                    subject=rendered.subject or campaign.name,
                    text=rendered.text,
                    html=rendered.html,
                    metadata={
                        "engagement": {"campaign_id": campaign.pk, "recipient_id": recipient.pk}
                    },
                    activity_title=f"Campaign message: {campaign.name}",
                    activity_data={"campaign_id": campaign.pk},
                    source_type="engagement.campaign",
                    source_id=str(recipient.pk),
                )
        except Exception as exc:  # one failed send must not stop the campaign
            logger.exception("Campaign %s: send to recipient %s failed", campaign.pk, recipient.pk)
            recipient.error = repr(exc)[:2000]
            if recipient.attempts >= MAX_ATTEMPTS:
                return _close(recipient, CampaignRecipient.Status.FAILED, "Failed after retries.")
            recipient.scheduled_for = state.now + RETRY_DELAY
            recipient.save()
            return "deferred"
        recipient.message_id, recipient.conversation_id = message.pk, message.conversation_id
        recipient.sent_at, recipient.scheduled_for = state.now, None
        state.window_counts[inbox.channel] = state.window_counts.get(inbox.channel, 0) + 1
        return _close(recipient, CampaignRecipient.Status.SENT)


@dataclass
class RunOutcome:
    """How a run ended: completed, stopped (paused, cancelled, not started), or waiting until
    `retry_at` (quiet hours, throttle, retries)."""

    state: str
    retry_at: dt.datetime | None = None
    processed: int = 0


def campaign_run(
    *,
    campaign_id: int,
    actor: Actor,
    job: Job | None = None,
    now: dt.datetime | None = None,
    batch_size: int = 100,
    max_batches: int | None = None,
) -> RunOutcome:
    """The job's body: build the audience if needed, then send to pending recipients in
    batches, re-reading the campaign's status before each batch (pause stops here). Safe to run
    twice at once or again after a crash. Commits per recipient; call it outside a transaction.
    `now` fixes the clock (tests); `max_batches` stops early (tests of resuming)."""
    campaign = Campaign.objects.select_related("workspace", "created_by").get(pk=campaign_id)
    clock = now or timezone.now()
    if campaign.status == Campaign.Status.SCHEDULED and campaign.scheduled_for is not None:
        if campaign.scheduled_for > clock:
            return RunOutcome("waiting", campaign.scheduled_for)
        with transaction.atomic():
            updated = Campaign.objects.filter(
                pk=campaign.pk, status=Campaign.Status.SCHEDULED
            ).update(status=Campaign.Status.RUNNING, started_at=clock)
        campaign.refresh_from_db()
        if not updated:
            return _stopped(campaign, job)
    if campaign.status != Campaign.Status.RUNNING:
        return _stopped(campaign, job)
    if job is not None and job.status == Job.Status.QUEUED:
        job_start(job=job)
    with transaction.atomic():
        audience_build(campaign=campaign)
        config = guards.settings_for(campaign.workspace_id)
    if job is not None:
        job_progress(job=job, done=campaign.done_count, total=campaign.targeted_count)
    state = RunState(campaign=campaign, now=clock, config=config)
    last_id, processed, batches = 0, 0, 0
    while True:
        status = Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True).first()
        if status != Campaign.Status.RUNNING:
            refresh_counts(campaign)
            return _stopped(campaign, job, processed)
        if max_batches is not None and batches >= max_batches:
            refresh_counts(campaign)
            return RunOutcome("stopped", None, processed)
        if now is None:
            state.now = timezone.now()
        ids = list(
            campaign.recipients.filter(status=CampaignRecipient.Status.PENDING, pk__gt=last_id)
            .exclude(scheduled_for__gt=state.now)
            .order_by("id")
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            break
        last_id = ids[-1]
        # One transaction a batch: a crash rolls back its claims and messages together.
        with transaction.atomic():
            for recipient in (
                CampaignRecipient.objects.select_related("customer", "customer__workspace")
                .filter(pk__in=ids, status=CampaignRecipient.Status.PENDING)
                .order_by("id")
            ):
                recipient_send(recipient=recipient, state=state, actor=actor)
                processed += 1
        batches += 1
        refresh_counts(campaign)
        if state.throttled and campaign.channel != Campaign.PREFERRED:
            break  # one channel, and its minute is used up: nothing more to do until then
        if job is not None:
            job_progress(job=job, done=campaign.done_count, total=campaign.targeted_count)
    refresh_counts(campaign)
    waiting = campaign.recipients.filter(status=CampaignRecipient.Status.PENDING).aggregate(
        at=Min("scheduled_for")
    )
    if campaign.recipients.filter(status=CampaignRecipient.Status.PENDING).exists():
        retry = waiting["at"] if waiting["at"] and waiting["at"] > state.now else None
        if state.throttled or retry is None:
            retry = state.now + dt.timedelta(minutes=1)
        return RunOutcome("waiting", retry, processed)
    with transaction.atomic():
        done = Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.RUNNING).update(
            status=Campaign.Status.COMPLETED, finished_at=timezone.now()
        )
        if done:
            outbox.emit(
                workspace=campaign.workspace,
                name="engagement.campaign.status_changed",
                payload={
                    "campaign_id": campaign.pk,
                    "status": Campaign.Status.COMPLETED,
                    "previous": Campaign.Status.RUNNING,
                },
            )
    campaign.refresh_from_db()
    if job is not None:
        job_finish(job=job, result=_result(campaign))
    return RunOutcome("completed", None, processed)


def _result(campaign: Campaign) -> dict[str, Any]:
    return {
        "campaign_id": campaign.pk,
        "status": campaign.status,
        "targeted": campaign.targeted_count,
        "held_out": campaign.held_out_count,
        "sent": campaign.sent_count,
        "skipped": campaign.skipped_count,
        "failed": campaign.failed_count,
    }


def _stopped(campaign: Campaign, job: Job | None, processed: int = 0) -> RunOutcome:
    campaign.refresh_from_db()
    if job is not None and job.status in (Job.Status.QUEUED, Job.Status.RUNNING):
        job_finish(job=job, result=_result(campaign))
    return RunOutcome("stopped", None, processed)
