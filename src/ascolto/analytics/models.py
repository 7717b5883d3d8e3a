"""Analytics' own tables: metric owners and targets, the alerts they raise, the digests sent.

Everything else analytics shows is read from the other apps' tables (GUIDE §1: analytics reads
everyone and writes only its own tables).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ascolto.core.models import WorkspaceScopedModel


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
