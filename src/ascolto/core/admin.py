"""Admin for the kernel: workspaces are configured here; the outbox, jobs and the audit log are
shown for diagnosis only (the product writes them, nobody edits them)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from ascolto.core.models import AuditLogEntry, Job, OutboxDelivery, OutboxEvent, Workspace


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Rows written by the product: viewable, never added, changed or deleted by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def register_read_only(*models: type[Model]) -> None:
    """Show product-written rows (rollups, snapshots, intake rows, model state) in the admin for
    diagnosis: a list of their first fields, filtered by workspace where they have one, and
    nothing editable."""
    for model in models:
        names = [f.name for f in model._meta.fields]
        display = tuple(n for n in names if n not in {"data", "answers", "payload"})[:7]
        attrs: dict[str, Any] = {"list_display": display}
        if "workspace" in names:
            attrs["list_filter"] = ("workspace",)
        admin.site.register(model, type(f"{model.__name__}Admin", (ReadOnlyAdmin,), attrs))


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin[Workspace]):
    list_display = ("name", "slug", "timezone", "default_locale", "default_currency", "created_at")
    search_fields = ("name", "slug")
    list_filter = ("default_locale", "default_currency")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("created_at",)


class OutboxDeliveryInline(admin.TabularInline):  # type: ignore[type-arg]
    model = OutboxDelivery
    extra = 0
    can_delete = False
    readonly_fields = ("handler", "completed_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "workspace", "created_at", "dispatched_at", "attempts")
    list_filter = ("name", ("dispatched_at", admin.EmptyFieldListFilter), "workspace")
    search_fields = ("name", "last_error")
    date_hierarchy = "created_at"
    list_select_related = ("workspace",)
    inlines = (OutboxDeliveryInline,)


@admin.register(OutboxDelivery)
class OutboxDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("event", "handler", "completed_at")
    search_fields = ("handler", "event__name")
    list_select_related = ("event",)


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "kind",
        "status",
        "workspace",
        "progress_done",
        "progress_total",
        "created_by",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "kind", "workspace")
    search_fields = ("kind", "error")
    date_hierarchy = "created_at"
    list_select_related = ("workspace", "created_by")


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "workspace",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "customer_id",
    )
    list_filter = ("action", "object_type", "workspace")
    search_fields = ("actor_label", "action", "object_id")
    date_hierarchy = "created_at"
    list_select_related = ("workspace",)
    show_full_result_count = False
