"""Proactive engagement: external events, rules, message templates and the sends they cause."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ascolto.core.models import Workspace, WorkspaceScopedModel
from ascolto.customers.models import ConsentPurpose, Customer, Order


class EventType(models.TextChoices):
    ORDER_PLACED = "order.placed", _("Order placed")
    ORDER_SHIPPED = "order.shipped", _("Order shipped")
    ORDER_DELAYED = "order.delayed", _("Order delayed")
    ORDER_DELIVERED = "order.delivered", _("Order delivered")
    ORDER_RETURNED = "order.returned", _("Order returned")
    PAYMENT_FAILED = "payment.failed", _("Payment failed")
    SUBSCRIPTION_RENEWING = "subscription.renewing", _("Subscription renewing")
    CART_ABANDONED = "cart.abandoned", _("Cart abandoned")
    ACCOUNT = "account", _("Account event")
    CUSTOM = "custom", _("Custom event")
    REPLENISHMENT_DUE = "replenishment.due", _("Replenishment due")
    CUSTOMER_CHURN_RISK = "customer.churn_risk", _("Churn risk crossed")
    # Recorded by Ascolto itself (source "internal"), never taken in from outside.
    SCHEDULE = "schedule", _("On a schedule")
    DATE = "date", _("Date attribute")
    CONVERSATION_CREATED = "conversation.created", _("Conversation created")
    CONVERSATION_RESOLVED = "conversation.resolved", _("Conversation resolved")
    SURVEY_ANSWERED = "survey.answered", _("Survey answered")


INTERNAL_EVENT_TYPES = frozenset(
    {
        EventType.SCHEDULE,
        EventType.DATE,
        EventType.CONVERSATION_CREATED,
        EventType.CONVERSATION_RESOLVED,
        EventType.SURVEY_ANSWERED,
    }
)
EXTERNAL_EVENT_TYPES = [t for t in EventType.values if t not in INTERNAL_EVENT_TYPES]


class EngagementSettings(models.Model):
    """Per-workspace guard rails and the secret inbound webhooks are signed with."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="engagement_settings"
    )
    webhook_secret = models.CharField(max_length=128)
    quiet_start = models.TimeField(_("quiet hours start"), default=dt.time(21, 0))
    quiet_end = models.TimeField(_("quiet hours end"), default=dt.time(8, 0))
    cap_count = models.PositiveIntegerField(_("messages per customer"), default=3)
    cap_window_hours = models.PositiveIntegerField(_("within hours"), default=24)

    class Meta:
        verbose_name = _("engagement settings")
        verbose_name_plural = _("engagement settings")

    def __str__(self) -> str:
        return f"engagement settings of workspace #{self.workspace_id}"


class Event(WorkspaceScopedModel):
    """Something that happened outside Ascolto, stored once per (workspace, external id)."""

    external_id = models.CharField(_("external id"), max_length=200)
    type = models.CharField(_("type"), max_length=40, choices=EventType.choices)
    name = models.CharField(_("name"), max_length=100, blank=True, default="")
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="engagement_events"
    )
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="engagement_events"
    )
    payload = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    source = models.CharField(_("source"), max_length=20, default="api")

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "external_id"], name="engagement_event_external_id_unique"
            )
        ]
        indexes = [
            models.Index(fields=["workspace", "-occurred_at", "-id"], name="eng_event_ws_idx")
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.external_id}"


class Rule(WorkspaceScopedModel):
    """When an event of `trigger` arrives and `conditions` hold, run `actions`."""

    name = models.CharField(_("name"), max_length=200)
    trigger = models.CharField(_("trigger"), max_length=40, choices=EventType.choices)
    # The schedule of "schedule" rules and the date of "date" rules (engagement/triggers.py).
    trigger_config = models.JSONField(_("trigger settings"), default=dict, blank=True)
    conditions = models.JSONField(_("conditions"), default=dict, blank=True)
    actions = models.JSONField(_("actions"), default=list)
    purpose = models.CharField(
        _("purpose"), max_length=12, choices=ConsentPurpose.choices, default=ConsentPurpose.SERVICE
    )
    is_active = models.BooleanField(_("active"), default=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    holdout_percent = models.PositiveSmallIntegerField(_("hold-out percent"), default=0)

    class Meta:
        verbose_name = _("rule")
        verbose_name_plural = _("rules")
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["workspace", "trigger", "is_active"], name="eng_rule_idx")]

    def __str__(self) -> str:
        return self.name


class MessageTemplate(WorkspaceScopedModel):
    """A message per key, channel ("any" for all) and language, in the sandboxed template syntax."""

    key = models.SlugField(_("key"), max_length=60)
    channel = models.CharField(_("channel"), max_length=12, default="any")
    language = models.CharField(_("language"), max_length=8)
    subject = models.CharField(_("subject"), max_length=300, blank=True, default="")
    body = models.TextField(_("body"))
    # For WhatsApp outside the 24-hour window: the approved template to send instead, as
    # {"name", "language", "variables": [our template text for {{1}}, for {{2}}, ...]}.
    whatsapp = models.JSONField(_("WhatsApp template"), default=dict, blank=True)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["key", "channel", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "key", "channel", "language"], name="eng_template_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.channel}, {self.language})"


class Send(WorkspaceScopedModel):
    """One rule run for one event: at most one per (rule, event), so a re-delivered event is a
    no-op. Holds the message it sent, or why it did not send."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        SENT = "sent", _("Sent")
        SKIPPED = "skipped", _("Skipped")
        FAILED = "failed", _("Failed")

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="sends")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="sends")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.SCHEDULED
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True, default="")
    channel = models.CharField(_("channel"), max_length=12, blank=True, default="")
    scheduled_for = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    message_id = models.BigIntegerField(null=True, blank=True)
    conversation_id = models.BigIntegerField(null=True, blank=True)
    text = models.TextField(blank=True, default="")
    # What the actions beside the message did, by action index: {"1": {"type", "status", ...}}.
    action_results = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("send")
        verbose_name_plural = _("sends")
        constraints = [
            models.UniqueConstraint(fields=["rule", "event"], name="eng_send_once_per_rule_event")
        ]
        indexes = [
            models.Index(fields=["status", "scheduled_for"], name="eng_send_due_idx"),
            models.Index(fields=["customer", "status", "sent_at"], name="eng_send_cap_idx"),
        ]

    def __str__(self) -> str:
        return f"rule #{self.rule_id} / event #{self.event_id}: {self.status}"


class TriggerRun(WorkspaceScopedModel):
    """One period of a schedule rule (`2026-03-09` daily, `2026-W11` weekly): started once,
    finished once. A run cut short by a restart is resumed; a finished one is never repeated."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="trigger_runs")
    period = models.CharField(max_length=20)
    due_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    fired = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("trigger run")
        verbose_name_plural = _("trigger runs")
        constraints = [
            models.UniqueConstraint(fields=["rule", "period"], name="eng_trigger_run_once")
        ]

    def __str__(self) -> str:
        return f"rule #{self.rule_id} {self.period}"


class Campaign(WorkspaceScopedModel):
    """A one-off send of a template to the customers an audience condition selects."""

    PREFERRED = "preferred"

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    name = models.CharField(_("name"), max_length=200)
    template_key = models.SlugField(_("template"), max_length=60)
    purpose = models.CharField(
        _("purpose"),
        max_length=12,
        choices=ConsentPurpose.choices,
        default=ConsentPurpose.MARKETING,
    )
    channel = models.CharField(_("channel"), max_length=12, default=PREFERRED)
    audience = models.JSONField(_("audience"), default=dict, blank=True)
    holdout_percent = models.PositiveSmallIntegerField(_("hold-out percent"), default=0)
    throttle_per_minute = models.PositiveIntegerField(
        _("messages per minute on each channel"), default=0
    )
    conversion_window_days = models.PositiveSmallIntegerField(
        _("conversion window (days)"), default=7
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    scheduled_for = models.DateTimeField(null=True, blank=True)
    audience_built_at = models.DateTimeField(null=True, blank=True)
    targeted_count = models.PositiveIntegerField(default=0)
    held_out_count = models.PositiveIntegerField(default=0)
    sent_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    job = models.ForeignKey(
        "core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="eng_campaign_ws_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def done_count(self) -> int:
        return self.held_out_count + self.sent_count + self.skipped_count + self.failed_count

    @property
    def percent(self) -> int:
        if not self.targeted_count:
            return 100 if self.status == self.Status.COMPLETED else 0
        return min(100, int(100 * self.done_count / self.targeted_count))


class CampaignRecipient(WorkspaceScopedModel):
    """One customer of a campaign's audience: at most one per (campaign, customer), and it moves
    out of `pending` once, so a re-run batch never sends twice."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        HELD_OUT = "held_out", _("Held out")
        SENT = "sent", _("Sent")
        SKIPPED = "skipped", _("Skipped")
        FAILED = "failed", _("Failed")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True, default="")
    error = models.TextField(blank=True, default="")
    channel = models.CharField(_("channel"), max_length=12, blank=True, default="")
    scheduled_for = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.BigIntegerField(null=True, blank=True)
    conversation_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("campaign recipient")
        verbose_name_plural = _("campaign recipients")
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "customer"], name="eng_recipient_once_per_campaign"
            )
        ]
        indexes = [
            models.Index(fields=["campaign", "status", "id"], name="eng_recipient_status_idx"),
            models.Index(fields=["customer", "status", "sent_at"], name="eng_recipient_cap_idx"),
        ]

    def __str__(self) -> str:
        return f"campaign #{self.campaign_id} / customer #{self.customer_id}: {self.status}"
