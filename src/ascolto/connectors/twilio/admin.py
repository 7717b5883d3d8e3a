"""Admin for Twilio accounts: viewable, never with their token. Accounts are created through
`twilio.services.twilio_account_create`, which encrypts the token and writes the audit log."""

from __future__ import annotations

from django.contrib import admin

from ascolto.connectors.twilio.models import TwilioAccount
from ascolto.core.admin import ReadOnlyAdmin


@admin.register(TwilioAccount)
class TwilioAccountAdmin(ReadOnlyAdmin):
    list_display = ("account_sid", "from_number", "inbox", "workspace", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("account_sid", "from_number")
    exclude = ("auth_token_encrypted",)
