"""Admin for Meta accounts and WhatsApp templates: viewable, never with their secrets."""

from __future__ import annotations

from django.contrib import admin

from ascolto.connectors.meta.models import MetaAccount, WhatsAppTemplate
from ascolto.core.admin import ReadOnlyAdmin


@admin.register(MetaAccount)
class MetaAccountAdmin(ReadOnlyAdmin):
    list_display = ("platform", "external_id", "inbox", "workspace", "is_active", "created_at")
    list_filter = ("platform", "is_active")
    search_fields = ("external_id",)
    exclude = ("app_secret_encrypted", "verify_token_encrypted", "access_token_encrypted")


@admin.register(WhatsAppTemplate)
class WhatsAppTemplateAdmin(ReadOnlyAdmin):
    list_display = ("name", "language", "account", "workspace")
    search_fields = ("name",)
