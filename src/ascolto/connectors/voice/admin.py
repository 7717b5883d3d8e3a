"""Admin for call records: written through the /calls API and `voice.services`; read-only."""

from __future__ import annotations

from django.contrib import admin

from ascolto.connectors.voice.models import CallRecord
from ascolto.core.admin import ReadOnlyAdmin


@admin.register(CallRecord)
class CallRecordAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "direction",
        "outcome",
        "duration_seconds",
        "from_number",
        "to_number",
        "agent",
        "workspace",
    )
    list_filter = ("direction", "outcome")
    search_fields = ("from_number", "to_number", "external_id")
    raw_id_fields = ("conversation", "message", "agent")
