"""Admin for Customer 360 data.

Customer profiles are edited through `customers.services` (so every change reaches the timeline,
the audit log and the outbox); orders, consent, the timeline and merges are shown read-only,
because they are written by the API, imports and the product's own flows.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms
from django.contrib import admin
from django.db import transaction
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from ascolto.core.actors import Actor
from ascolto.core.admin import ReadOnlyAdmin
from ascolto.customers import services
from ascolto.customers.models import (
    Activity,
    AttributeDefinition,
    Consent,
    ConsentChange,
    Customer,
    CustomerMerge,
    Identity,
    Order,
    OrderLine,
    Organization,
)

PROFILE_FORM_FIELDS = (
    "name",
    "external_id",
    "locale",
    "timezone",
    "birthday",
    "value_tier",
    "organization",
)


class CustomerAdminForm(forms.ModelForm):  # type: ignore[type-arg]
    """Checks what the service would refuse, so the admin shows a field error, never a 500."""

    class Meta:
        model = Customer
        fields = ("workspace", *PROFILE_FORM_FIELDS)

    def clean_timezone(self) -> str:
        name = str(self.cleaned_data.get("timezone") or "")
        if name:
            try:
                zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise forms.ValidationError(
                    _("Unknown time zone; use an IANA name such as Europe/Rome.")
                ) from None
        return name


class ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class IdentityInline(ReadOnlyInline):
    model = Identity
    fields = ("kind", "value", "verified", "is_primary")


class ConsentInline(ReadOnlyInline):
    model = Consent
    fields = ("purpose", "channel", "granted", "source", "recorded_at")


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin[Organization]):
    list_display = ("name", "domain", "external_id", "workspace", "created_at")
    list_filter = ("workspace",)
    search_fields = ("name", "domain", "external_id")
    list_select_related = ("workspace",)


@admin.register(AttributeDefinition)
class AttributeDefinitionAdmin(admin.ModelAdmin[AttributeDefinition]):
    list_display = ("key", "label", "type", "workspace")
    list_filter = ("type", "workspace")
    search_fields = ("key", "label")
    list_select_related = ("workspace",)


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin[Customer]):
    list_display = (
        "__str__",
        "external_id",
        "value_tier",
        "orders_count",
        "lifetime_spend",
        "last_activity_at",
        "workspace",
    )
    list_filter = ("value_tier", ("merged_into", admin.EmptyFieldListFilter), "workspace")
    search_fields = ("name", "external_id", "identities__value")
    list_select_related = ("workspace", "organization")
    autocomplete_fields = ("organization",)
    form = CustomerAdminForm
    inlines = (IdentityInline, ConsentInline)
    show_full_result_count = False

    def get_fields(self, request: HttpRequest, obj: Customer | None = None) -> Any:
        base = ("workspace",) if obj is None else ()
        return (
            *base,
            *PROFILE_FORM_FIELDS,
            "attributes",
            "merged_into",
            "lifetime_spend",
            "orders_count",
            "last_order_at",
            "last_activity_at",
            "created_at",
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Customer | None = None) -> Any:
        # Attributes are typed per workspace and merges have their own service: not edited here.
        derived = (
            "attributes",
            "merged_into",
            "lifetime_spend",
            "orders_count",
            "last_order_at",
            "last_activity_at",
            "created_at",
        )
        return derived if obj is None else ("workspace", *derived)

    def save_model(
        self, request: HttpRequest, obj: Customer, form: ModelForm[Customer], change: bool
    ) -> None:
        actor = Actor.for_user(request.user)  # type: ignore[arg-type]
        data = form.cleaned_data
        with transaction.atomic():
            if change:
                current = Customer.objects.select_related("workspace").get(pk=obj.pk)
                fields = {
                    name: data[name] for name in form.changed_data if name in PROFILE_FORM_FIELDS
                }
                if fields:
                    services.customer_update(customer=current, actor=actor, **fields)
            else:
                created = services.customer_create(
                    workspace=data["workspace"],
                    actor=actor,
                    name=data.get("name") or "",
                    external_id=data.get("external_id") or None,
                    locale=data.get("locale") or "",
                    timezone_name=data.get("timezone") or "",
                    birthday=data.get("birthday"),
                    value_tier=data.get("value_tier") or "",
                    organization=data.get("organization"),
                )
                obj.pk = created.pk


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ("sku", "name", "quantity", "unit_price")
    show_change_link = False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = (
        "external_id",
        "customer",
        "status",
        "placed_at",
        "total",
        "currency",
        "workspace",
    )
    list_filter = ("status", "currency", "workspace")
    search_fields = ("external_id", "customer__name", "customer__external_id")
    date_hierarchy = "placed_at"
    list_select_related = ("customer", "workspace")
    inlines = (OrderLineInline,)
    show_full_result_count = False


@admin.register(OrderLine)
class OrderLineAdmin(ReadOnlyAdmin):
    list_display = ("name", "sku", "quantity", "unit_price", "order")
    search_fields = ("name", "sku", "order__external_id")
    list_select_related = ("order",)


@admin.register(Identity)
class IdentityAdmin(ReadOnlyAdmin):
    list_display = ("value", "kind", "customer", "verified", "is_primary", "workspace")
    list_filter = ("kind", "verified", "workspace")
    search_fields = ("value", "customer__name")
    list_select_related = ("customer", "workspace")
    show_full_result_count = False


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    list_display = ("customer", "purpose", "channel", "granted", "source", "recorded_at")
    list_filter = ("purpose", "channel", "granted", "workspace")
    search_fields = ("customer__name", "source")
    list_select_related = ("customer",)


@admin.register(ConsentChange)
class ConsentChangeAdmin(ReadOnlyAdmin):
    list_display = (
        "customer",
        "purpose",
        "channel",
        "granted",
        "source",
        "actor_label",
        "recorded_at",
    )
    list_filter = ("purpose", "channel", "granted", "workspace")
    search_fields = ("customer__name", "source", "actor_label")
    date_hierarchy = "recorded_at"
    list_select_related = ("customer",)


@admin.register(Activity)
class ActivityAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "kind", "title", "customer", "workspace")
    list_filter = ("kind", "workspace")
    search_fields = ("title", "customer__name")
    date_hierarchy = "occurred_at"
    list_select_related = ("customer", "workspace")
    show_full_result_count = False


@admin.register(CustomerMerge)
class CustomerMergeAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "primary", "merged_customer_id", "actor_label", "workspace")
    list_filter = ("workspace",)
    search_fields = ("primary__name", "actor_label")
    list_select_related = ("primary", "workspace")
