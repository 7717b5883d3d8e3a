from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import translation


def workspace(request: HttpRequest) -> dict[str, Any]:
    return {
        "current_workspace": getattr(request, "workspace", None),
        "text_direction": "rtl" if translation.get_language_bidi() else "ltr",
    }
