"""The outcome of the last "send test" of a channel, shown to admins as its connection state."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ascolto.core.models import WorkspaceScopedModel
from ascolto.inbox.models import Inbox


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
