"""Admin for the inbox. Configuration an administrator sets up (business-hours calendars, SLA
policies, tags) is edited here, with the same checks the product applies; conversations,
messages and their history are written by the product and shown read-only, for diagnosis."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from ascolto.core.admin import ReadOnlyAdmin
from ascolto.inbox.business_hours import InvalidCalendar, parse_calendar
from ascolto.inbox.models import (
    AgentProfile,
    Attachment,
    AvailabilitySpan,
    BusinessHours,
    Conversation,
    ConversationEvent,
    ConversationSearchText,
    HandlingInterval,
    Inbox,
    Macro,
    Mention,
    Message,
    Participant,
    SLAAlert,
    SLAPolicy,
    Tag,
)

ESCALATIONS = {"notify", "reassign_supervisor", "raise_priority"}


class BusinessHoursForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = BusinessHours
        fields = ("workspace", "name", "team", "timezone", "schedule", "holidays")
        help_texts = {
            "schedule": 'For example {"mon": [["09:00", "13:00"], ["14:00", "18:00"]]}; '
            "missing days are closed.",
            "holidays": 'Whole days closed, for example ["2026-12-25", "2026-12-26"].',
        }

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        team = data.get("team")
        workspace = data.get("workspace")
        if team is not None and workspace is not None and team.workspace_id != workspace.pk:
            self.add_error("team", "The team belongs to another workspace.")
        if "schedule" in data and "timezone" in data:
            try:
                parse_calendar(
                    timezone=data["timezone"],
                    schedule=data["schedule"],
                    holidays=data.get("holidays") or (),
                )
            except InvalidCalendar as exc:
                raise forms.ValidationError(str(exc)) from None
        return data


@admin.register(BusinessHours)
class BusinessHoursAdmin(admin.ModelAdmin[BusinessHours]):
    form = BusinessHoursForm
    list_display = ("name", "team", "timezone", "workspace")
    list_filter = ("timezone",)
    search_fields = ("name",)


class SLAPolicyForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = SLAPolicy
        fields = (
            "workspace",
            "name",
            "position",
            "priority",
            "value_tier",
            "channel",
            "first_response_minutes",
            "next_response_minutes",
            "resolution_minutes",
            "business_hours",
            "warn_before_minutes",
            "escalation",
            "is_active",
        )

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        escalation = data.get("escalation") or []
        if not isinstance(escalation, list) or not set(escalation) <= ESCALATIONS:
            self.add_error("escalation", f"A list of: {', '.join(sorted(ESCALATIONS))}.")
        hours = data.get("business_hours")
        workspace = data.get("workspace")
        if hours is not None and workspace is not None and hours.workspace_id != workspace.pk:
            self.add_error("business_hours", "The calendar belongs to another workspace.")
        return data


@admin.register(SLAPolicy)
class SLAPolicyAdmin(admin.ModelAdmin[SLAPolicy]):
    form = SLAPolicyForm
    list_display = (
        "name",
        "position",
        "priority",
        "value_tier",
        "channel",
        "first_response_minutes",
        "next_response_minutes",
        "resolution_minutes",
        "is_active",
        "workspace",
    )
    list_filter = ("is_active", "channel", "priority")
    search_fields = ("name",)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin[Tag]):
    list_display = ("name", "workspace")
    search_fields = ("name",)


@admin.register(Inbox)
class InboxAdmin(ReadOnlyAdmin):
    list_display = ("name", "channel", "team", "routing", "workspace")
    list_filter = ("channel", "routing")
    search_fields = ("name",)


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    list_display = ("id", "subject", "channel", "status", "priority", "assignee", "last_message_at")
    list_filter = ("status", "channel", "priority")
    search_fields = ("subject",)
    raw_id_fields = ("customer", "inbox", "assignee", "team")


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "conversation", "kind", "delivery_status", "created_at")
    list_filter = ("kind", "delivery_status")
    search_fields = ("text", "provider_id")
    raw_id_fields = ("conversation",)


@admin.register(ConversationSearchText)
class ConversationSearchTextAdmin(ReadOnlyAdmin):
    list_display = ("id", "conversation")
    raw_id_fields = ("conversation",)


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    list_display = ("filename", "content_type", "size", "refused_reason", "message")
    search_fields = ("filename",)
    raw_id_fields = ("message",)


@admin.register(ConversationEvent)
class ConversationEventAdmin(ReadOnlyAdmin):
    list_display = ("conversation", "kind", "from_value", "to_value", "reason", "created_at")
    list_filter = ("kind",)
    search_fields = ("reason",)
    raw_id_fields = ("conversation",)


@admin.register(HandlingInterval)
class HandlingIntervalAdmin(ReadOnlyAdmin):
    list_display = ("conversation", "agent", "started_at", "ended_at")
    raw_id_fields = ("conversation",)


@admin.register(SLAAlert)
class SLAAlertAdmin(ReadOnlyAdmin):
    list_display = ("conversation", "target", "kind", "created_at")
    list_filter = ("target", "kind")
    raw_id_fields = ("conversation",)


@admin.register(Macro)
class MacroAdmin(ReadOnlyAdmin):
    list_display = ("name", "workspace")
    search_fields = ("name",)


@admin.register(AgentProfile)
class AgentProfileAdmin(ReadOnlyAdmin):
    list_display = ("user", "availability", "workspace")
    list_filter = ("availability",)


@admin.register(AvailabilitySpan)
class AvailabilitySpanAdmin(ReadOnlyAdmin):
    list_display = ("agent", "status", "started_at", "ended_at", "workspace")
    list_filter = ("status",)
    raw_id_fields = ("agent",)


@admin.register(Participant)
class ParticipantAdmin(ReadOnlyAdmin):
    raw_id_fields = ("conversation",)


@admin.register(Mention)
class MentionAdmin(ReadOnlyAdmin):
    list_display = ("message", "user", "read_at")
    raw_id_fields = ("message",)
