"""Changing a rule: every field checked as when it was created, the change audited."""

from __future__ import annotations

from typing import Any

from ascolto.core.actors import Actor
from ascolto.core.audit import audit_record
from ascolto.engagement import services
from ascolto.engagement.models import Rule


def rule_update(
    *,
    rule: Rule,
    actor: Actor,
    name: str,
    trigger: str,
    actions: list[dict[str, Any]],
    conditions: dict[str, Any] | None = None,
    purpose: str = "service",
    is_active: bool = True,
    trigger_settings: dict[str, Any] | None = None,
    holdout_percent: int | None = None,
) -> Rule:
    """Replace the rule's settings (PUT semantics; the hold-out share is kept when not given).
    What it already did stays: its sends keep their (rule, event) keys, and schedule periods
    already run are not run again."""
    fields = services.rule_fields_checked(
        workspace=rule.workspace,
        name=name,
        trigger=trigger,
        actions=actions,
        conditions=conditions,
        purpose=purpose,
        trigger_settings=trigger_settings,
    )
    fields["is_active"] = is_active
    if holdout_percent is not None:  # None keeps the rule's hold-out share
        services.holdout_check(holdout_percent)
        fields["holdout_percent"] = holdout_percent
    changes = {key: value for key, value in fields.items() if getattr(rule, key) != value}
    if not changes:
        return rule
    for key, value in changes.items():
        setattr(rule, key, value)
    rule.save()
    audit_record(
        workspace=rule.workspace,
        actor=actor,
        action="engagement.rule.update",
        object_type="engagement.rule",
        object_id=rule.pk,
        changes=changes,
    )
    return rule
