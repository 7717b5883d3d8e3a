"""Analytics' own tables: metric owners and targets, the alerts they raise, the digests sent.

Everything else analytics shows is read from the other apps' tables (GUIDE §1: analytics reads
everyone and writes only its own tables).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ascolto.core.models import Workspace, WorkspaceScopedModel


class MetricTarget(WorkspaceScopedModel):
    """One owner and one target value for a metric of the workspace (`dashboards.metrics`)."""

    class Direction(models.TextChoices):
        HIGHER = "higher", _("Higher is better")
        LOWER = "lower", _("Lower is better")

    metric = models.CharField(_("metric"), max_length=40)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("owner"),
    )
    target = models.FloatField(_("target"))
    direction = models.CharField(_("direction"), max_length=6, choices=Direction.choices)

    class Meta:
        verbose_name = _("metric target")
        verbose_name_plural = _("metric targets")
        ordering = ["metric"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "metric"], name="metric_target_once")
        ]

    def __str__(self) -> str:
        return f"{self.metric} {self.direction} {self.target}"

    def is_met(self, value: float) -> bool:
        if self.direction == self.Direction.HIGHER:
            return value >= self.target
        return value <= self.target


class MetricAlert(WorkspaceScopedModel):
    """An off-target metric, shown to its owner in the app until read. At most one unread alert
    per target: a metric that stays off target does not pile up alerts."""

    target = models.ForeignKey(MetricTarget, on_delete=models.CASCADE, related_name="alerts")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    value = models.FloatField()
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["target"],
                condition=models.Q(read_at__isnull=True),
                name="metric_alert_one_unread",
            )
        ]
        indexes = [
            models.Index(fields=["workspace", "owner", "-created_at"], name="alert_owner_idx")
        ]

    def __str__(self) -> str:
        return f"{self.target.metric}={self.value}"


class DigestSent(WorkspaceScopedModel):
    """The weekly digest one owner received for one ISO week: sending is idempotent."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    week = models.CharField(max_length=8)  # ISO week, "2026-W48"

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "owner", "week"], name="digest_once_a_week"
            )
        ]

    def __str__(self) -> str:
        return f"{self.owner_id} {self.week}"


class Experiment(WorkspaceScopedModel):
    """A randomised comparison of variants on one metric. `variants` is a list of
    {"key": "A", "weight": 50, "payload": {...}}; the first variant is the control. `lever`
    names the setting another app reads from the payload (`experiments.levers`)."""

    class Unit(models.TextChoices):
        CONVERSATION = "conversation", _("Conversation")
        CUSTOMER = "customer", _("Customer")

    class Design(models.TextChoices):
        FIXED = "fixed", _("Fixed sample size")
        SEQUENTIAL = "sequential", _("Sequential (always-valid p-values)")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        RUNNING = "running", _("Running")
        STOPPED = "stopped", _("Stopped")

    name = models.CharField(_("name"), max_length=200)
    hypothesis = models.TextField(_("hypothesis"), blank=True, default="")
    unit = models.CharField(_("unit"), max_length=12, choices=Unit.choices)
    lever = models.CharField(_("lever"), max_length=40, blank=True, default="")
    variants = models.JSONField(_("variants"), default=list)
    metric = models.CharField(_("metric"), max_length=40)
    design = models.CharField(_("design"), max_length=10, choices=Design.choices)
    baseline = models.FloatField(_("baseline"))
    mde = models.FloatField(_("minimum detectable effect"))
    alpha = models.FloatField(_("significance level"), default=0.05)
    power = models.FloatField(_("power"), default=0.8)
    sample_size = models.PositiveIntegerField(_("units per variant"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.DRAFT
    )
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    stopped_at = models.DateTimeField(_("stopped at"), null=True, blank=True)

    class Meta:
        verbose_name = _("experiment")
        verbose_name_plural = _("experiments")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "status", "lever"], name="experiment_lever_idx")
        ]

    def __str__(self) -> str:
        return self.name


class ExperimentAssignment(WorkspaceScopedModel):
    """The variant a unit (conversation or customer id) got, recorded once at first exposure."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="assignments")
    unit_id = models.BigIntegerField()
    variant = models.CharField(max_length=20)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "unit_id"], name="experiment_assignment_once"
            )
        ]
        indexes = [models.Index(fields=["experiment", "variant"], name="assignment_variant_idx")]

    def __str__(self) -> str:
        return f"{self.experiment_id}:{self.unit_id}={self.variant}"


class ConversationRollup(models.Model):
    """Conversation figures of one day (the workspace's time zone), one filter value and, when
    `agent` is set, one agent within it, so the dashboards add up a few hundred rows instead of
    reading every conversation (analytics/rollups.py; the sums are `analytics.tally.Tally`).

    `dimension` is "" for all conversations, else a filter (channel, team, agent, language,
    tier) and `key` its value, or two filters together ("channel+team", key "email|3"), or the
    three of `rollups.TRIPLE` ("channel+language+tier", key "email|he|gold"). Rows
    with `agent` set break (dimension, key) down per assignee for the team view. Medians come
    from the fixed histograms (`frt`, `nrt`, `resolution`); `pending` holds the judgements
    that time alone will make later (an SLA target running out, the 7-day first-contact window
    closing), counted by the reader once their moment passed."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    dimension = models.CharField(max_length=40, blank=True, default="")
    key = models.CharField(max_length=40, blank=True, default="")
    agent = models.CharField(max_length=20, blank=True, default="")
    conversations = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    backlog = models.PositiveIntegerField(default=0)
    ever_resolved = models.PositiveIntegerField(default=0)
    reopened = models.PositiveIntegerField(default=0)
    transfers = models.PositiveIntegerField(default=0)
    handled = models.PositiveIntegerField(default=0)
    handle_seconds = models.FloatField(default=0.0)
    sla_fr_judged = models.PositiveIntegerField(default=0)
    sla_fr_met = models.PositiveIntegerField(default=0)
    sla_res_judged = models.PositiveIntegerField(default=0)
    sla_res_met = models.PositiveIntegerField(default=0)
    fcr_judged = models.PositiveIntegerField(default=0)
    fcr_first = models.PositiveIntegerField(default=0)
    auto_resolved = models.PositiveIntegerField(default=0)
    bot_resolved = models.PositiveIntegerField(default=0)
    # Histograms packed as (bucket, count) pairs (analytics.tally.pack), cheap to merge.
    frt = models.BinaryField(default=b"")
    nrt = models.BinaryField(default=b"")
    resolution = models.BinaryField(default=b"")
    channels = models.JSONField(default=dict)
    heat = models.JSONField(default=dict)
    pending = models.JSONField(default=list)

    class Meta:
        verbose_name = _("conversation rollup")
        verbose_name_plural = _("conversation rollups")
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "dimension", "key", "agent", "day"],
                name="conversation_rollup_once",
            )
        ]

    def __str__(self) -> str:
        return f"conversation rollup {self.day} {self.dimension}={self.key} {self.agent}"


class ConversationRollupState(models.Model):
    """How far a workspace's conversation rollups go: days before `covered_until` (workspace
    time zone) are rolled up, and that day's rows hold the conversations started before
    `partial_until`; `scanned_at` is when changed conversations were last looked for."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="+")
    covered_until = models.DateField(null=True, blank=True)
    partial_until = models.DateTimeField(null=True, blank=True)
    scanned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("conversation rollup state")
        verbose_name_plural = _("conversation rollup states")

    def __str__(self) -> str:
        return f"conversation rollups of workspace #{self.workspace_id} until {self.covered_until}"


class Snapshot(WorkspaceScopedModel):
    """The figures of one dashboard for one period and filters, computed by a worker (hourly for
    the preset periods, or on demand for a large workspace) so that the page reads one row
    instead of recomputing (`analytics.snapshots`). `data` holds what the kind's module writes
    (`journey.snapshots.to_data`, `dashboards.value.to_data`); `requested_at` marks a
    computation queued and not yet done; `computed_at` is empty until the first one is."""

    class Kind(models.TextChoices):
        JOURNEY = "journey", _("Customer journey")
        VALUE = "value", _("Customer value")

    kind = models.CharField(max_length=16, choices=Kind.choices)
    first_day = models.DateField()
    last_day = models.DateField()
    filters_key = models.CharField(max_length=300, blank=True, default="")
    computed_at = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True)
    data = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "kind", "first_day", "last_day", "filters_key"],
                name="snapshot_once",
            )
        ]


# Employee NPS keeps its tables beside its code (analytics/enps/); imported here so Django
# finds them as analytics models.
from ascolto.analytics.enps.models import Pulse, PulseAnswer, PulseSchedule  # noqa: E402, F401


class AgentDay(models.Model):
    """One agent's online time and handle time inside it over one whole past day (the
    workspace's time zone), as `analytics.occupancy` defines them, so the team view adds up
    days instead of sweeping every span of the period (analytics/workload_rollups.py). Both
    add up exactly over days: the spans are cut at the day's edges. No row: no online time."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    online_seconds = models.FloatField(default=0.0)
    busy_seconds = models.FloatField(default=0.0)

    class Meta:
        verbose_name = _("agent day")
        verbose_name_plural = _("agent days")
        constraints = [
            models.UniqueConstraint(fields=["workspace", "day", "agent"], name="agent_day_once")
        ]

    def __str__(self) -> str:
        return f"agent {self.agent_id} on {self.day}"


class AssistantDay(models.Model):
    """The assistant's figures of one settled day (the workspace's time zone): confirmed
    resolutions of the bot conversations created that day, and the outcomes of the deflection
    offers made that day (assistant.selectors' definitions). A day is settled 24 hours after
    it ends, when none of its offers can still be pending or followed by a conversation."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    bot_conversations = models.PositiveIntegerField(default=0)
    bot_confirmed = models.PositiveIntegerField(default=0)
    offers = models.PositiveIntegerField(default=0)
    deflection_confirmed = models.PositiveIntegerField(default=0)
    deflection_assumed = models.PositiveIntegerField(default=0)
    deflection_followed = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("assistant day")
        verbose_name_plural = _("assistant days")
        constraints = [
            models.UniqueConstraint(fields=["workspace", "day"], name="assistant_day_once")
        ]

    def __str__(self) -> str:
        return f"assistant figures of {self.day}"


class WorkloadRollupState(models.Model):
    """How far a workspace's agent-day and assistant-day rows go: the days before
    `agent_covered_until` and `assistant_covered_until` have rows when they have figures;
    `scanned_at` is when changed spans, sessions and offers were last looked for."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="+")
    agent_covered_until = models.DateField(null=True, blank=True)
    assistant_covered_until = models.DateField(null=True, blank=True)
    scanned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("workload rollup state")
        verbose_name_plural = _("workload rollup states")

    def __str__(self) -> str:
        return f"workload rollups of workspace #{self.workspace_id}"
