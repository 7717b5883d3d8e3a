"""Template helpers of the shell: workspace switcher, money, and the audit log's wording."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.apps import apps
from django.utils import translation
from django.utils.formats import number_format
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from ascolto.core.models import AuditLogEntry, Workspace

register = template.Library()

AUDIT_ACTIONS: dict[str, Promise] = {
    "customer.create": _("Customer created"),
    "customer.update": _("Profile updated"),
    "customer.merge": _("Profiles merged"),
    "customer.merged_away": _("Merged into another profile"),
    "identity.add": _("Identity added"),
    "identity.remove": _("Identity removed"),
    "order.create": _("Order created"),
    "order.update": _("Order updated"),
    "consent.granted": _("Consent granted"),
    "consent.revoked": _("Consent revoked"),
    "organization.create": _("Organization created"),
    "organization.update": _("Organization updated"),
    "membership.set": _("Role changed"),
    "team.create": _("Team created"),
    "api_token.create": _("API token created"),
    "api_token.revoke": _("API token revoked"),
}


@register.simple_tag(takes_context=True)
def user_workspaces(context: template.Context) -> list[Workspace]:
    """The workspaces the signed-in user belongs to, for the switcher in the header."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    return list(Workspace.objects.filter(memberships__user=user).order_by("name"))


@register.filter
def money(value: Any, currency: str = "") -> str:
    """An amount with two decimals and the locale's grouping, followed by its currency code."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    text = number_format(amount, decimal_pos=2, use_l10n=True, force_grouping=True)
    return f"{text}\u00a0{currency}" if currency else text


@register.filter
def audit_action(action: str) -> str:
    """The audit action in words; codes of modules that did not name theirs stay as they are."""
    label = AUDIT_ACTIONS.get(action)
    return str(label) if label is not None else action


@dataclass(frozen=True)
class ChangeRow:
    field: str
    old: str
    new: str
    is_change: bool


def _plain(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return str(_("yes")) if value else str(_("no"))
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_plain(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(_plain(item) for item in value)
    return str(value)


@register.filter
def audit_changes(entry: AuditLogEntry) -> list[ChangeRow]:
    """Rows for an entry's changes; the [old, new] pairs of an update become "old → new"."""
    changes = entry.changes
    if not isinstance(changes, dict):
        return []
    is_update = entry.action.endswith(".update")
    rows = []
    for key, value in changes.items():
        if is_update and isinstance(value, list) and len(value) == 2:
            rows.append(ChangeRow(str(key), _plain(value[0]), _plain(value[1]), True))
        elif value not in (None, "", {}, []):
            rows.append(ChangeRow(str(key), "", _plain(value), False))
    return rows


@register.filter
def language_label(code: str) -> str:
    """A language code as the language's name in the reader's language ("it" → "Italian")."""
    if not code:
        return ""
    try:
        return str(translation.get_language_info(code)["name_translated"])
    except KeyError:
        return code


MOVED_LABELS: dict[str, Promise] = {
    "identities": _("identities"),
    "consents": _("consents"),
}


@register.filter
def moved_label(key: str) -> str:
    """What a merge moved, by name: a model label ("customers.order") becomes its plural name."""
    if key in MOVED_LABELS:
        return str(MOVED_LABELS[key])
    try:
        model = apps.get_model(key)
    except (LookupError, ValueError):
        return key
    return str(model._meta.verbose_name_plural)
