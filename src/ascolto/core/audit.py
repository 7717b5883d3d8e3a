"""The append-only audit log. Services call `audit_record` in the transaction of their change."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from ascolto.core.actors import Actor
from ascolto.core.models import AuditLogEntry, Workspace


def audit_record(
    *,
    workspace: Workspace,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object,
    customer_id: int | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditLogEntry:
    return AuditLogEntry.objects.create(
        workspace=workspace,
        actor_user=actor.user,
        actor_token_id=actor.token_id,
        actor_label=actor.describe()[:200],
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        customer_id=customer_id,
        changes=changes or {},
    )


def audit_entries(
    *, workspace: Workspace, customer_id: int | None = None, limit: int = 100
) -> QuerySet[AuditLogEntry]:
    qs = AuditLogEntry.objects.filter(workspace=workspace).select_related("actor_user")
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    return qs.order_by("-created_at", "-id")[:limit]


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The fields that changed, as {field: [old, new]}, with values made JSON-friendly."""
    changed: dict[str, Any] = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            changed[key] = [_plain(old), _plain(new)]
    return changed


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    return str(value)
