"""The outcome of the last "send test" of a channel, shown to admins as its connection state."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ascolto.core.models import WorkspaceScopedModel
from ascolto.inbox.models import BusinessHours, Conversation, Inbox, Message


class ChannelCheck(WorkspaceScopedModel):
    """One row per inbox: when it was last tested, whether that worked, and the exact error."""

    inbox = models.OneToOneField(Inbox, on_delete=models.CASCADE, related_name="channel_check")
    ok = models.BooleanField(_("working"), default=False)
    detail = models.TextField(_("result"), blank=True, default="")
    last_error = models.TextField(_("last error"), blank=True, default="")
    last_error_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("channel check")
        verbose_name_plural = _("channel checks")

    def __str__(self) -> str:
        return f"{self.inbox_id}: {'ok' if self.ok else 'failing'}"


class AutoReplySettings(WorkspaceScopedModel):
    """An inbox's automatic answers: `away_texts` ({language: text}) when a customer writes
    outside the business hours of `business_hours` (none: always open, so never away), and,
    when `acknowledge`, `acknowledgement_texts` to the first message of every conversation
    written within them."""

    inbox = models.OneToOneField(Inbox, on_delete=models.CASCADE, related_name="auto_reply")
    business_hours = models.ForeignKey(
        BusinessHours, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    away_texts = models.JSONField(_("outside business hours"), default=dict, blank=True)
    acknowledge = models.BooleanField(_("acknowledge every new conversation"), default=False)
    acknowledgement_texts = models.JSONField(_("acknowledgement"), default=dict, blank=True)
    # Email only: the acknowledgement lists the help center's best matching articles.
    suggest_articles = models.BooleanField(
        _("suggest help-center articles in the email acknowledgement"), default=True
    )

    class Meta:
        verbose_name = _("automatic replies")
        verbose_name_plural = _("automatic replies")

    def __str__(self) -> str:
        return f"auto-reply of inbox {self.inbox_id}"


class AutoReplySent(WorkspaceScopedModel):
    """One automatic answer of a kind given in a conversation: the unique constraint is what
    makes a redelivered event, or two workers on the same event, answer once."""

    class Kind(models.TextChoices):
        AWAY = "away", _("Outside business hours")
        ACKNOWLEDGEMENT = "ack", _("Acknowledgement")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=4, choices=Kind.choices)
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "kind"], name="auto_reply_once")
        ]

    def __str__(self) -> str:
        return f"{self.kind} in {self.conversation_id}"
