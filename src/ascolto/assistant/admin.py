from django.contrib import admin

from ascolto.assistant.models import (
    AssistantSettings,
    BotSession,
    DeflectionOffer,
    MessageTriage,
    TriageRule,
)
from ascolto.core.admin import register_read_only


@admin.register(AssistantSettings)
class AssistantSettingsAdmin(admin.ModelAdmin[AssistantSettings]):
    list_display = ("workspace", "enabled", "confidence_threshold", "generative_enabled")
    # The API key is write-only in practice: never shown back in the list.
    exclude = ("generative_api_key",)


@admin.register(TriageRule)
class TriageRuleAdmin(admin.ModelAdmin[TriageRule]):
    list_display = ("workspace", "intent", "min_confidence", "team", "priority", "is_active")
    list_filter = ("is_active",)


register_read_only(BotSession, MessageTriage, DeflectionOffer)
