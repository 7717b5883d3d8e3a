"""Read-mostly admin for engagement: sends are what happened and are not edited by hand."""

from __future__ import annotations

from django.contrib import admin

from ascolto.engagement.models import (
    Campaign,
    CampaignRecipient,
    EngagementSettings,
    Event,
    MessageTemplate,
    Rule,
    Send,
    TriggerRun,
)


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin[Rule]):
    list_display = ("name", "workspace", "trigger", "purpose", "is_active")
    list_filter = ("trigger", "purpose", "is_active")
    search_fields = ("name",)


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin[MessageTemplate]):
    list_display = ("key", "workspace", "channel", "language")
    list_filter = ("channel", "language")


@admin.register(Event)
class EventAdmin(admin.ModelAdmin[Event]):
    list_display = ("external_id", "workspace", "type", "customer", "occurred_at", "source")
    list_filter = ("type", "source")
    raw_id_fields = ("customer", "order")
    readonly_fields = ("payload",)


@admin.register(Send)
class SendAdmin(admin.ModelAdmin[Send]):
    list_display = ("id", "rule", "customer", "status", "channel", "attempts", "sent_at")
    list_filter = ("status", "channel")
    readonly_fields = [f.name for f in Send._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(TriggerRun)
class TriggerRunAdmin(admin.ModelAdmin[TriggerRun]):
    list_display = ("rule", "period", "due_at", "finished_at", "fired")
    readonly_fields = [f.name for f in TriggerRun._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(EngagementSettings)
class EngagementSettingsAdmin(admin.ModelAdmin[EngagementSettings]):
    list_display = ("workspace", "quiet_start", "quiet_end", "cap_count", "cap_window_hours")
    exclude = ("webhook_secret",)


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin[Campaign]):
    """Read-only: campaigns change through their services (start, pause, resume, cancel)."""

    list_display = ("name", "workspace", "status", "targeted_count", "sent_count", "created_at")
    list_filter = ("status", "purpose")
    search_fields = ("name",)
    readonly_fields = [f.name for f in Campaign._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(CampaignRecipient)
class CampaignRecipientAdmin(admin.ModelAdmin[CampaignRecipient]):
    list_display = ("id", "campaign", "customer", "status", "reason", "channel", "sent_at")
    list_filter = ("status", "channel")
    raw_id_fields = ("campaign", "customer")
    readonly_fields = [f.name for f in CampaignRecipient._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False
