"""The settings an experiment can vary: each lever names the app that reads it and validates the
variant payload. A variant payload without the lever's key leaves the app's own setting as is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

Check = Callable[[dict[str, Any]], str | None]


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


@dataclass(frozen=True)
class Lever:
    key: str
    label: str | Promise
    help: str | Promise
    check: Check


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
    ]
}
