"""Admin for surveys, shown for diagnosis: surveys, settings and follow-ups are changed through
the API (the services validate, audit and keep answers consistent with their questions);
invitations and responses are written by the product and the customers themselves."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from ascolto.core.admin import ReadOnlyAdmin, register_read_only
from ascolto.surveys.models import (
    DailyRollup,
    FollowUp,
    InterceptAnswer,
    Invitation,
    Question,
    Response,
    RollupState,
    Submission,
    Survey,
    SurveySettings,
)


class QuestionInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Question
    extra = 0
    can_delete = False
    fields = ("position", "key", "type", "text", "required", "show_if")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Survey)
class SurveyAdmin(ReadOnlyAdmin):
    list_display = ("name", "kind", "touchpoint", "trigger", "is_active", "workspace")
    list_filter = ("kind", "touchpoint", "trigger", "is_active")
    search_fields = ("name", "title")
    inlines = [QuestionInline]


@admin.register(SurveySettings)
class SurveySettingsAdmin(ReadOnlyAdmin):
    list_display = ("workspace", "suppression_days", "reminder_after_hours", "followup_due_hours")


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "survey",
        "customer",
        "channel",
        "status",
        "skip_reason",
        "send_after",
        "sent_at",
        "answered_at",
    )
    list_filter = ("status", "channel", "skip_reason")
    search_fields = ("source_key",)
    raw_id_fields = ("customer", "conversation", "order")
    exclude = ("token_digests",)


@admin.register(Response)
class ResponseAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "survey",
        "customer",
        "completed",
        "nps_score",
        "csat_score",
        "ces_score",
        "language",
        "created_at",
    )
    list_filter = ("completed", "touchpoint", "language", "sentiment")
    raw_id_fields = ("customer", "invitation")


@admin.register(FollowUp)
class FollowUpAdmin(ReadOnlyAdmin):
    list_display = ("id", "reason", "status", "owner", "due_at", "first_contact_at", "closed_at")
    list_filter = ("status", "reason", "root_cause")
    raw_id_fields = ("response", "customer", "conversation")


@admin.register(InterceptAnswer)
class InterceptAnswerAdmin(ReadOnlyAdmin):
    list_display = ("survey", "score", "language", "page", "created_at", "workspace")
    list_filter = ("language",)


register_read_only(Question, DailyRollup, RollupState, Submission)
