"""A Meta account (a WhatsApp Cloud phone number, a Facebook Page or an Instagram account)
wired to one inbox, and the WhatsApp message templates approved for it."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ascolto.connectors.crypto import EncryptedAttribute
from ascolto.core.models import WorkspaceScopedModel
from ascolto.inbox.models import Inbox


class MetaAccount(WorkspaceScopedModel):
    """Where Meta's webhook for one number or page lands (/connectors/meta/<id>/webhook) and
    how replies are sent. The app secret, verify token and access token are plaintext through
    the model API and Fernet tokens in the database (see connectors/crypto.py)."""

    class Platform(models.TextChoices):
        WHATSAPP = "whatsapp", _("WhatsApp")
        MESSENGER = "messenger", _("Messenger")
        INSTAGRAM = "instagram", _("Instagram")

    inbox = models.OneToOneField(Inbox, on_delete=models.CASCADE, related_name="meta_account")
    platform = models.CharField(_("platform"), max_length=10, choices=Platform.choices)
    # The WhatsApp phone-number id, or the Page / Instagram account id, replies are sent from.
    external_id = models.CharField(_("phone number or page id"), max_length=64)
    app_secret_encrypted = models.TextField(blank=True, default="")
    verify_token_encrypted = models.TextField(blank=True, default="")
    access_token_encrypted = models.TextField(blank=True, default="")
    is_active = models.BooleanField(_("active"), default=True)

    app_secret = EncryptedAttribute("app_secret_encrypted")
    verify_token = EncryptedAttribute("verify_token_encrypted")
    access_token = EncryptedAttribute("access_token_encrypted")

    class Meta:
        verbose_name = _("Meta account")
        verbose_name_plural = _("Meta accounts")

    def __str__(self) -> str:
        return f"{self.platform} {self.external_id}"


class WhatsAppTemplate(WorkspaceScopedModel):
    """A message template approved by WhatsApp: the only kind of message that may start a
    conversation, or follow up more than 24 hours after the customer last wrote. `body` is its
    text with numbered variables ({{1}}, {{2}}...), `variables` their names in order."""

    account = models.ForeignKey(MetaAccount, on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(_("name"), max_length=512)
    language = models.CharField(_("language"), max_length=15, default="en")
    body = models.TextField(_("text"), blank=True, default="")
    variables = models.JSONField(_("variables"), default=list, blank=True)

    class Meta:
        verbose_name = _("WhatsApp template")
        verbose_name_plural = _("WhatsApp templates")
        ordering = ["name", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "name", "language"], name="whatsapp_template_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"
