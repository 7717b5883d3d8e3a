"""Request middleware: the user's language and the current workspace."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.functional import SimpleLazyObject

from ascolto.core.models import Workspace

SESSION_WORKSPACE_KEY = "ascolto_workspace_id"


class UserLocaleMiddleware:
    """Activate the signed-in user's chosen language, else the cookie / browser preference."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = ""
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            language = getattr(user, "locale", "")
        supported = {code for code, _ in settings.LANGUAGES}
        if language not in supported:
            language = translation.get_language_from_request(request)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        translation.deactivate()
        return response


def _current_workspace(request: HttpRequest) -> Workspace | None:
    user = request.user
    if not user.is_authenticated:
        return None
    memberships = Workspace.objects.filter(memberships__user=user)
    wanted = request.session.get(SESSION_WORKSPACE_KEY)
    if wanted is not None:
        chosen = memberships.filter(pk=wanted).first()
        if chosen is not None:
            return chosen
    return memberships.order_by("pk").first()


class CurrentWorkspaceMiddleware:
    """Set `request.workspace` (lazily) to the workspace the signed-in user is working in."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.workspace = SimpleLazyObject(lambda: _current_workspace(request))  # type: ignore[attr-defined]
        return self.get_response(request)
