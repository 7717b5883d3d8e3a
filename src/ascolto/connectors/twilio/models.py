"""A Twilio account (sub-account) wired to one SMS or WhatsApp inbox."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ascolto.connectors.crypto import EncryptedAttribute
from ascolto.core.models import WorkspaceScopedModel
from ascolto.inbox.models import Inbox


class TwilioAccount(WorkspaceScopedModel):
    """Where Twilio's webhooks for one sender land (/connectors/twilio/<id>/inbound and
    /status) and how replies are sent. `auth_token` is plaintext through the model API and a
    Fernet token in the database (`auth_token_encrypted`), see crypto.py."""

    inbox = models.OneToOneField(Inbox, on_delete=models.CASCADE, related_name="twilio_account")
    account_sid = models.CharField(_("account SID"), max_length=64)
    auth_token_encrypted = models.TextField(blank=True, default="")
    # E.164 for SMS, "whatsapp:+E.164" for WhatsApp: Twilio's From of our replies.
    from_number = models.CharField(_("from number"), max_length=40)
    is_active = models.BooleanField(_("active"), default=True)

    auth_token = EncryptedAttribute("auth_token_encrypted")

    class Meta:
        verbose_name = _("Twilio account")
        verbose_name_plural = _("Twilio accounts")

    def __str__(self) -> str:
        return f"{self.account_sid} ({self.from_number})"

    @property
    def is_whatsapp(self) -> bool:
        return self.from_number.startswith("whatsapp:")
