"""The pulse schedule of a workspace, its pulses and their answers.

An answer carries no user: only a keyed hash of (pulse, user) that makes "one answer per agent
per pulse" a unique constraint, and that is erased when the pulse closes (`services`). Answers
have no timestamps either, so their order in time cannot be matched with other records.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _

from ascolto.core.models import Workspace, WorkspaceScopedModel

DEFAULT_OPEN_DAYS = 14
MAX_OPEN_DAYS = 28  # shorter than a month, so two pulses of a workspace never overlap
COMMENT_MAX_LENGTH = 1000


class Cadence(models.TextChoices):
    MONTHLY = "monthly", _("Monthly")
    QUARTERLY = "quarterly", _("Quarterly")
    OFF = "off", _("Off")


class PulseSchedule(WorkspaceScopedModel):
    """How often the workspace's agents are asked. A workspace without a row is asked monthly,
    each pulse open for DEFAULT_OPEN_DAYS days."""

    cadence = models.CharField(
        _("cadence"), max_length=10, choices=Cadence.choices, default=Cadence.MONTHLY
    )
    open_days = models.PositiveSmallIntegerField(_("open for (days)"), default=DEFAULT_OPEN_DAYS)

    class Meta:
        verbose_name = _("pulse schedule")
        verbose_name_plural = _("pulse schedules")
        constraints = [
            models.UniqueConstraint(fields=["workspace"], name="enps_schedule_once"),
            models.CheckConstraint(
                condition=models.Q(open_days__gte=1, open_days__lte=MAX_OPEN_DAYS),
                name="enps_schedule_open_days_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cadence} ({self.open_days} d)"


class Pulse(WorkspaceScopedModel):
    """One round of the question, for one period (a month or a quarter, in the workspace's time
    zone, named by its first day). `asked` is the number of agents at the opening: the response
    rate's denominator."""

    period_start = models.DateField(_("period"))
    cadence = models.CharField(_("cadence"), max_length=10, choices=Cadence.choices)
    opens_at = models.DateTimeField(_("opens at"))
    closes_at = models.DateTimeField(_("closes at"))
    asked = models.PositiveIntegerField(_("agents asked"), default=0)

    class Meta:
        verbose_name = _("pulse")
        verbose_name_plural = _("pulses")
        ordering = ["-period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "period_start"], name="enps_pulse_once_per_period"
            )
        ]
        indexes = [models.Index(fields=["workspace", "closes_at"], name="enps_pulse_closes")]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.period_start:%Y-%m}"

    def is_open(self, now: dt.datetime) -> bool:
        return self.opens_at <= now < self.closes_at


class PulseAnswer(models.Model):
    """One agent's answer, without the agent. `respondent_hash` is an HMAC of (pulse, user)
    while the pulse is open, NULL after it closes."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    pulse = models.ForeignKey(Pulse, on_delete=models.CASCADE, related_name="answers")
    score = models.PositiveSmallIntegerField(_("score"))
    comment = models.TextField(_("comment"), blank=True, max_length=COMMENT_MAX_LENGTH)
    respondent_hash = models.CharField(max_length=64, null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("pulse answer")
        verbose_name_plural = _("pulse answers")
        constraints = [
            models.UniqueConstraint(
                fields=["pulse", "respondent_hash"], name="enps_answer_once_per_agent"
            ),
            models.CheckConstraint(condition=models.Q(score__lte=10), name="enps_answer_score"),
        ]

    def __str__(self) -> str:
        return f"{self.pulse_id}: {self.score}"
