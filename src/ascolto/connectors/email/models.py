"""Email channel rows: a mailbox per email inbox, every message seen or sent (the threading
keys and the raw original), conversation reply tokens, and addresses that bounce."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ascolto.connectors.crypto import EncryptedAttribute
from ascolto.core.models import WorkspaceScopedModel
from ascolto.customers.models import Identity
from ascolto.inbox.models import Conversation, Inbox, Message


class Mailbox(WorkspaceScopedModel):
    """The address customers write to, how its mail is fetched (IMAP, or pushed over HTTP to
    the inbound endpoint with `inbound_token`) and how replies leave (SMTP; a blank host uses
    the site's EMAIL_* settings). Passwords are encrypted at rest (connectors/crypto.py,
    shared by the messaging connectors)."""

    class Security(models.TextChoices):
        SSL = "ssl", _("SSL/TLS")
        STARTTLS = "starttls", _("STARTTLS")
        NONE = "none", _("None (loopback only)")

    inbox = models.OneToOneField(Inbox, on_delete=models.CASCADE, related_name="mailbox")
    address = models.EmailField(_("address"))
    display_name = models.CharField(_("display name"), max_length=120, blank=True, default="")
    # More addresses that deliver here (aliases); mail *from* any of them is our own: a loop.
    aliases = models.JSONField(_("aliases"), default=list, blank=True)
    inbound_token = models.CharField(max_length=64, unique=True)
    max_message_bytes = models.PositiveIntegerField(
        _("largest message (bytes)"), default=25 * 1024 * 1024
    )

    imap_enabled = models.BooleanField(_("fetch by IMAP"), default=False)
    imap_host = models.CharField(_("IMAP host"), max_length=255, blank=True, default="")
    imap_port = models.PositiveIntegerField(_("IMAP port"), default=993)
    imap_security = models.CharField(
        _("IMAP security"), max_length=8, choices=Security.choices, default=Security.SSL
    )
    imap_user = models.CharField(_("IMAP user"), max_length=255, blank=True, default="")
    imap_password_encrypted = models.TextField(blank=True, default="")
    imap_folder = models.CharField(_("IMAP folder"), max_length=255, default="INBOX")
    uid_validity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)
    last_polled_at = models.DateTimeField(null=True, blank=True)

    smtp_host = models.CharField(_("SMTP host"), max_length=255, blank=True, default="")
    smtp_port = models.PositiveIntegerField(_("SMTP port"), default=587)
    smtp_security = models.CharField(
        _("SMTP security"), max_length=8, choices=Security.choices, default=Security.STARTTLS
    )
    smtp_user = models.CharField(_("SMTP user"), max_length=255, blank=True, default="")
    smtp_password_encrypted = models.TextField(blank=True, default="")

    last_error = models.TextField(_("last error"), blank=True, default="")
    last_error_at = models.DateTimeField(null=True, blank=True)

    # Passwords read and write as plaintext; the database holds Fernet tokens only.
    imap_password = EncryptedAttribute("imap_password_encrypted")
    smtp_password = EncryptedAttribute("smtp_password_encrypted")

    class Meta:
        verbose_name = _("mailbox")
        verbose_name_plural = _("mailboxes")
        constraints = [
            models.UniqueConstraint(fields=["workspace", "address"], name="mailbox_address_unique")
        ]

    def __str__(self) -> str:
        return self.address

    def own_addresses(self) -> set[str]:
        return {self.address.lower(), *(str(a).lower() for a in self.aliases or [])}


class EmailMessageRecord(WorkspaceScopedModel):
    """One email in or out of a mailbox: its threading keys, what became of it, and the raw
    RFC 5322 original (the inbox message holds the trimmed text). Unique by Message-ID per
    mailbox, which is what makes a repeated fetch or delivery a no-op."""

    class Direction(models.TextChoices):
        INBOUND = "in", _("Received")
        OUTBOUND = "out", _("Sent")

    class Kind(models.TextChoices):
        MESSAGE = "message", _("Customer message")
        AUTOMATIC = "automatic", _("Automatic message (auto-reply, bulk)")
        BOUNCE = "bounce", _("Delivery failure report")
        LOOP = "loop", _("From our own address")
        REJECTED = "rejected", _("Could not be stored")
        REPLY = "reply", _("Our reply")

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="records")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    message_id = models.CharField(max_length=255)
    in_reply_to = models.CharField(max_length=255, blank=True, default="")
    references = models.TextField(blank=True, default="")
    subject = models.CharField(max_length=300, blank=True, default="")
    from_address = models.CharField(max_length=254, blank=True, default="")
    to_addresses = models.TextField(blank=True, default="")
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    inbox_message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=8, blank=True, default="")  # imap, http, smtp
    imap_uid = models.BigIntegerField(null=True, blank=True)
    note = models.TextField(blank=True, default="")  # why it was not a customer message
    raw = models.BinaryField()

    class Meta:
        verbose_name = _("email record")
        verbose_name_plural = _("email records")
        constraints = [
            models.UniqueConstraint(
                fields=["mailbox", "message_id"], name="email_record_message_id_unique"
            )
        ]
        indexes = [
            models.Index(fields=["workspace", "message_id"], name="email_record_msgid_idx"),
            models.Index(fields=["inbox_message"], name="email_record_message_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.message_id}"


class ThreadToken(WorkspaceScopedModel):
    """The short token that names a conversation in reply addresses (reply+TOKEN@) and
    subjects ([#TOKEN]), for mail clients that drop In-Reply-To and References."""

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="+")
    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, related_name="email_token"
    )
    token = models.CharField(max_length=16, unique=True)

    def __str__(self) -> str:
        return self.token


class BouncedAddress(WorkspaceScopedModel):
    """An email identity the last delivery reports say cannot receive mail."""

    identity = models.OneToOneField(Identity, on_delete=models.CASCADE, related_name="bounce")
    failing = models.BooleanField(default=True)
    bounce_count = models.PositiveIntegerField(default=0)
    last_status = models.CharField(max_length=20, blank=True, default="")
    last_reason = models.TextField(blank=True, default="")
    last_bounced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("bouncing address")
        verbose_name_plural = _("bouncing addresses")

    def __str__(self) -> str:
        return f"{self.identity.value} ({'failing' if self.failing else 'ok'})"
