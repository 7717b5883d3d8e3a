"""The API channel's intake ledger (docs/decisions/0012-api-channel-intake.md)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ascolto.core.models import Workspace
from ascolto.inbox.models import Inbox


class InboundIntake(models.Model):
    """One inbound message of the API channel, by provider id: the channel's idempotency
    ledger, written before anything else of the message.

    The fast path (connectors/api_channel/fastingest.py) inserts a pending row with the message
    id reserved from the messages' sequence and answers once it is committed; the intake worker
    turns pending rows into customer, conversation, message, timeline and outbox rows and sets
    `processed_at` in the same transaction. The Django operation inserts its row and stores the
    message in one transaction (the row is processed at once). The unique (inbox, provider id)
    key makes a retried or concurrent delivery one row whichever path it takes, and every
    repeat is answered with the message id of the first.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    # Looked up through api_intake_once (inbox, provider id), which starts with it.
    inbox = models.ForeignKey(Inbox, on_delete=models.CASCADE, related_name="+", db_index=False)
    provider_id = models.CharField(max_length=255)
    # The validated request body (IngestIn) and who sent it (the token's user).
    payload = models.JSONField(default=dict)
    user_id = models.BigIntegerField(null=True, blank=True)
    token_id = models.BigIntegerField(null=True, blank=True)
    message_id = models.BigIntegerField(null=True, blank=True)
    conversation_id = models.BigIntegerField(null=True, blank=True)
    customer_id = models.BigIntegerField(null=True, blank=True)
    conversation_created = models.BooleanField(default=False)
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        verbose_name = _("inbound API message")
        verbose_name_plural = _("inbound API messages")
        constraints = [
            models.UniqueConstraint(fields=["inbox", "provider_id"], name="api_intake_once")
        ]
        indexes = [
            models.Index(
                fields=["id"],
                name="api_intake_pending",
                condition=models.Q(processed_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.inbox_id}:{self.provider_id}"
