"""Writes to a workspace's engagement guard rails and webhook secret. The caller owns the
transaction."""

from __future__ import annotations

import datetime as dt
import secrets

from ascolto.core.actors import Actor
from ascolto.core.audit import audit_record
from ascolto.core.errors import ValidationFailed
from ascolto.core.models import Workspace
from ascolto.engagement import guards
from ascolto.engagement.models import EngagementSettings

MAX_CAP_COUNT = 1000
MAX_CAP_WINDOW_HOURS = 24 * 90


def settings_update(
    *,
    workspace: Workspace,
    actor: Actor,
    quiet_start: dt.time,
    quiet_end: dt.time,
    cap_count: int,
    cap_window_hours: int,
) -> EngagementSettings:
    """Set quiet hours (equal start and end: none) and the frequency cap (0 messages: no
    proactive message at all)."""
    errors: dict[str, list[str]] = {}
    if not 0 <= cap_count <= MAX_CAP_COUNT:
        errors["cap_count"] = [f"Between 0 and {MAX_CAP_COUNT}."]
    if not 1 <= cap_window_hours <= MAX_CAP_WINDOW_HOURS:
        errors["cap_window_hours"] = [f"Between 1 and {MAX_CAP_WINDOW_HOURS}."]
    if errors:
        raise ValidationFailed("The settings are not valid.", field_errors=errors)
    config = guards.settings_for(workspace.pk)
    config.quiet_start, config.quiet_end = quiet_start, quiet_end
    config.cap_count, config.cap_window_hours = cap_count, cap_window_hours
    config.save()
    audit_record(
        workspace=workspace,
        actor=actor,
        action="engagement.settings.update",
        object_type="engagement.settings",
        object_id=config.pk,
        changes={
            "quiet_start": quiet_start.isoformat(),
            "quiet_end": quiet_end.isoformat(),
            "cap_count": cap_count,
            "cap_window_hours": cap_window_hours,
        },
    )
    return config


def webhook_secret_regenerate(*, workspace: Workspace, actor: Actor) -> EngagementSettings:
    """A new signing secret; webhooks signed with the old one are refused from now on."""
    config = guards.settings_for(workspace.pk)
    config.webhook_secret = secrets.token_hex(32)
    config.save(update_fields=["webhook_secret"])
    audit_record(
        workspace=workspace,
        actor=actor,
        action="engagement.webhook_secret.regenerate",
        object_type="engagement.settings",
        object_id=config.pk,
    )
    return config
