from __future__ import annotations

from django.contrib import admin

from ascolto.connectors.email.models import (
    BouncedAddress,
    EmailMessageRecord,
    Mailbox,
    ThreadToken,
)


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin[Mailbox]):
    list_display = ("address", "workspace", "inbox", "imap_enabled", "last_uid", "last_error_at")
    list_filter = ("imap_enabled",)
    search_fields = ("address",)
    readonly_fields = (
        "inbound_token",
        "uid_validity",
        "last_uid",
        "last_polled_at",
        "last_error",
        "last_error_at",
    )
    # Passwords are set through `services.mailbox_create` (encrypted); never shown here.
    exclude = ("imap_password_encrypted", "smtp_password_encrypted")


@admin.register(EmailMessageRecord)
class EmailMessageRecordAdmin(admin.ModelAdmin[EmailMessageRecord]):
    list_display = ("message_id", "direction", "kind", "from_address", "subject", "created_at")
    list_filter = ("direction", "kind", "source")
    search_fields = ("message_id", "from_address", "subject")
    raw_id_fields = ("conversation", "inbox_message", "mailbox")
    exclude = ("raw",)


@admin.register(ThreadToken)
class ThreadTokenAdmin(admin.ModelAdmin[ThreadToken]):
    list_display = ("token", "conversation", "mailbox")
    raw_id_fields = ("conversation", "mailbox")


@admin.register(BouncedAddress)
class BouncedAddressAdmin(admin.ModelAdmin[BouncedAddress]):
    list_display = ("identity", "failing", "bounce_count", "last_status", "last_bounced_at")
    list_filter = ("failing",)
    raw_id_fields = ("identity",)
