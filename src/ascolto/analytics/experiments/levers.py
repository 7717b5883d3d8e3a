"""The settings an experiment can vary: each lever names the app that reads it and validates the
variant payload. A variant payload without the lever's key leaves the app's own setting as is.

A lever with a `scope_key` applies to one object named in every variant's payload (the same
value in all of them): `macro_wording` to one macro (`macro_id`), `routing` to one inbox
(`inbox_id`). Experiments on the same lever may run at once for different objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

Check = Callable[[dict[str, Any]], str | None]
WorkspaceCheck = Callable[[int, dict[str, Any]], str | None]
ROUTING_STRATEGIES = ("round_robin", "least_loaded")
MAX_MACRO_BODY = 10_000


def _survey_delay(payload: dict[str, Any]) -> str | None:
    value = payload.get("delay_minutes")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 60 * 24 * 30:
        return str(_("delay_minutes must be a whole number of minutes from 0 to 43200."))
    return None


def _assistant_threshold(payload: dict[str, Any]) -> str | None:
    value = payload.get("confidence_threshold")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        return str(_("confidence_threshold must be a number from 0 to 1."))
    return None


def _positive_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _macro_wording(payload: dict[str, Any]) -> str | None:
    if not _positive_id(payload.get("macro_id")):
        return str(_("macro_id must name the macro, the same in every variant."))
    body = payload.get("body")
    if body is None:
        return None
    if not isinstance(body, str) or not body.strip() or len(body) > MAX_MACRO_BODY:
        return str(_("body must be the macro's text, 1 to 10000 characters."))
    # Imported here: the inbox imports the experiments' services, which import this module.
    from ascolto.core.errors import ValidationFailed
    from ascolto.inbox.macros import validate_body

    try:
        validate_body(body)
    except ValidationFailed as exc:
        return exc.message
    return None


def _macro_in_workspace(workspace_id: int, payload: dict[str, Any]) -> str | None:
    from ascolto.inbox.models import Macro

    if not Macro.objects.filter(workspace_id=workspace_id, pk=payload["macro_id"]).exists():
        return str(_("No such macro in this workspace."))
    return None


def _routing(payload: dict[str, Any]) -> str | None:
    if not _positive_id(payload.get("inbox_id")):
        return str(_("inbox_id must name the inbox, the same in every variant."))
    strategy = payload.get("strategy")
    if strategy is not None and strategy not in ROUTING_STRATEGIES:
        return str(_("strategy must be round_robin or least_loaded."))
    team_id = payload.get("team_id")
    if team_id is not None and not _positive_id(team_id):
        return str(_("team_id must name a team."))
    return None


def _routing_in_workspace(workspace_id: int, payload: dict[str, Any]) -> str | None:
    from ascolto.accounts.models import Team
    from ascolto.inbox.models import Inbox

    if not Inbox.objects.filter(workspace_id=workspace_id, pk=payload["inbox_id"]).exists():
        return str(_("No such inbox in this workspace."))
    team_id: int | None = payload.get("team_id")
    if team_id is None:
        return None
    if not Team.objects.filter(workspace_id=workspace_id, pk=team_id).exists():
        return str(_("No such team in this workspace."))
    return None


@dataclass(frozen=True)
class Lever:
    key: str
    label: str | Promise
    help: str | Promise
    check: Check
    scope_key: str = ""
    check_workspace: WorkspaceCheck | None = None


LEVERS: dict[str, Lever] = {
    lever.key: lever
    for lever in [
        Lever(
            "survey_delay",
            _("Survey delay after a resolved conversation"),
            _('Payload {"delay_minutes": 30}; the survey\'s own delay when absent.'),
            _survey_delay,
        ),
        Lever(
            "assistant_threshold",
            _("Assistant confidence threshold"),
            _('Payload {"confidence_threshold": 0.6}; the assistant\'s setting when absent.'),
            _assistant_threshold,
        ),
        Lever(
            "macro_wording",
            _("Wording of a macro"),
            _(
                'Payload {"macro_id": 12, "body": "Hi {{ customer.first_name }}, ..."}; the '
                "macro's own text when body is absent. Used when an agent applies the macro."
            ),
            _macro_wording,
            scope_key="macro_id",
            check_workspace=_macro_in_workspace,
        ),
        Lever(
            "routing",
            _("Routing of an inbox"),
            _(
                'Payload {"inbox_id": 3, "strategy": "round_robin", "team_id": 5}; strategy is '
                "round_robin or least_loaded, team_id a team that takes the conversations; the "
                "inbox's own settings when absent."
            ),
            _routing,
            scope_key="inbox_id",
            check_workspace=_routing_in_workspace,
        ),
    ]
}
