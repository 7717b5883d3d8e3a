"""Admin for people: users, their roles in workspaces, teams and API tokens.

Role changes go through `accounts.services.membership_set`, so they reach the workspace audit
log; API tokens are created by their owners (the key is shown once) and can only be revoked here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ascolto.accounts import services
from ascolto.accounts.models import ApiToken, Membership, Team, User
from ascolto.core.actors import Actor


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    extra = 0
    can_delete = False
    readonly_fields = ("workspace", "role", "created_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin[User]):
    list_display = (
        "username",
        "email",
        "first_name",
        "last_name",
        "locale",
        "is_staff",
        "is_active",
        "last_login",
    )
    list_filter = ("is_staff", "is_superuser", "is_active", "locale")
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        (_("Preferences"), {"fields": ("locale",)}),
    )
    inlines = (MembershipInline,)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    list_display = ("user", "workspace", "role", "created_at")
    list_filter = ("role", "workspace")
    search_fields = ("user__username", "user__email", "workspace__name")
    list_select_related = ("user", "workspace")
    autocomplete_fields = ("user", "workspace")

    def get_readonly_fields(self, request: HttpRequest, obj: Membership | None = None) -> Any:
        # The person and workspace of a membership are its identity; only the role changes.
        return ("user", "workspace", "created_at") if obj is not None else ("created_at",)

    def save_model(
        self, request: HttpRequest, obj: Membership, form: ModelForm[Membership], change: bool
    ) -> None:
        with transaction.atomic():
            saved = services.membership_set(
                workspace=obj.workspace,
                user=obj.user,
                role=obj.role,
                actor=Actor.for_user(request.user),  # type: ignore[arg-type]
            )
        obj.pk = saved.pk
        obj.created_at = saved.created_at


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin[Team]):
    list_display = ("name", "workspace", "created_at")
    list_filter = ("workspace",)
    search_fields = ("name",)
    list_select_related = ("workspace",)
    filter_horizontal = ("members",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = (
        "name",
        "prefix",
        "user",
        "workspace",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "workspace")
    search_fields = ("name", "prefix", "user__username")
    list_select_related = ("user", "workspace")
    readonly_fields = (
        "name",
        "prefix",
        "user",
        "workspace",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    exclude = ("digest",)
    actions = ("revoke_tokens",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Revoke the selected tokens"), permissions=["change"])
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        actor = Actor.for_user(request.user)  # type: ignore[arg-type]
        count = 0
        with transaction.atomic():
            for token in queryset.select_related("workspace").filter(revoked_at__isnull=True):
                services.api_token_revoke(token=token, actor=actor)
                count += 1
        self.message_user(
            request,
            ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", count)
            % {"count": count},
            messages.SUCCESS,
        )
