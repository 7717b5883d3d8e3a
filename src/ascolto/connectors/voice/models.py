"""Phone calls with customers: one record per call, attached to a conversation."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ascolto.core.models import WorkspaceScopedModel
from ascolto.inbox.models import Conversation, Message


class CallRecord(WorkspaceScopedModel):
    """A call: who called whom, when, for how long and how it ended. Shown in the thread as a
    system item (`message`), on the customer's timeline, and an answered call's duration counts
    in its agent's handling time."""

    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Inbound")
        OUTBOUND = "outbound", _("Outbound")

    class Outcome(models.TextChoices):
        ANSWERED = "answered", _("Answered")
        MISSED = "missed", _("Missed")
        VOICEMAIL = "voicemail", _("Voicemail")
        FAILED = "failed", _("Failed")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="calls")
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices)
    from_number = models.CharField(_("from"), max_length=20)
    to_number = models.CharField(_("to"), max_length=20)
    started_at = models.DateTimeField(_("started at"))
    duration_seconds = models.PositiveIntegerField(_("duration (seconds)"), default=0)
    outcome = models.CharField(_("outcome"), max_length=9, choices=Outcome.choices)
    recording_url = models.URLField(_("recording"), max_length=2000, blank=True, default="")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    notes = models.TextField(_("notes"), blank=True, default="")
    # The telephony system's call id (a Twilio CallSid...): a repeated report is a no-op.
    external_id = models.CharField(max_length=100, null=True, blank=True)
    message = models.OneToOneField(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="call"
    )

    class Meta:
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "external_id"],
                name="call_external_id_unique",
                condition=models.Q(external_id__isnull=False),
            )
        ]
        indexes = [models.Index(fields=["conversation", "started_at"], name="call_thread_idx")]

    def __str__(self) -> str:
        return f"{self.direction} call #{self.pk}"
