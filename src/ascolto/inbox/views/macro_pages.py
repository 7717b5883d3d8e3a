"""Macro management pages: the macros a member may use, and the form to create or change one
(personal macros for everyone who writes, shared ones for admins)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from ascolto.accounts.selectors import has_permission
from ascolto.core.actors import Actor
from ascolto.core.errors import DomainError, NotFound, ValidationFailed
from ascolto.core.views import current_workspace, render_in_workspace
from ascolto.inbox import macros
from ascolto.inbox.models import Conversation, Macro
from ascolto.inbox.views.context import teams_of, user_of, writer

Status = Conversation.Status


def _actions_from_form(request: HttpRequest) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if request.POST.get("status"):
        data["status"] = request.POST["status"]
    if request.POST.get("priority", "").isdigit():
        data["priority"] = int(request.POST["priority"])
    tags = [t.strip() for t in request.POST.get("tags", "").split(",") if t.strip()]
    if tags:
        data["tags"] = tags
    team = request.POST.get("team_id", "")
    if team:
        data["team_id"] = int(team) if team.isdigit() else team
    return data


def _macro_form(
    request: HttpRequest, macro: Macro | None, *, error: str = "", status: int = 200
) -> HttpResponse:
    workspace = current_workspace(request)
    post = request.POST if request.method == "POST" else None
    actions = (macro.actions if macro else {}) or {}
    values = {
        "name": post.get("name", "") if post else (macro.name if macro else ""),
        "body": post.get("body", "") if post else (macro.body if macro else ""),
        "status": post.get("status", "") if post else actions.get("status", ""),
        "priority": post.get("priority", "") if post else str(actions.get("priority", "")),
        "tags": post.get("tags", "") if post else ", ".join(actions.get("tags", [])),
        "team_id": post.get("team_id", "") if post else str(actions.get("team_id", "")),
        "shared": bool(post.get("shared")) if post else bool(macro and macro.owner_id is None),
    }
    context = {
        "macro": macro,
        "values": values,
        "error": error,
        "section": "inbox",
        "variables": macros.MACRO_VARIABLES,
        "status_choices": [(s, Status(s).label) for s in macros.ACTION_STATUSES],
        "priority_choices": Conversation.Priority.choices,
        "teams": teams_of(workspace),
        "is_admin": has_permission(user=user_of(request), workspace=workspace, permission="admin"),
    }
    return render_in_workspace(request, "inbox/macro_form.html", context, status=status)


@login_required
@require_GET
def macro_list(request: HttpRequest) -> HttpResponse:
    workspace, user = current_workspace(request), user_of(request)
    rows = [
        (macro, macros.describe_actions(macros.MacroActions(**_stored_actions(macro))))
        for macro in macros.macros_for(workspace=workspace, user=user)
    ]
    return render_in_workspace(request, "inbox/macro_list.html", {"rows": rows, "section": "inbox"})


def _stored_actions(macro: Macro) -> dict[str, Any]:
    raw = macro.actions if isinstance(macro.actions, dict) else {}
    return {
        "status": raw.get("status"),
        "priority": raw.get("priority"),
        "tags": tuple(raw.get("tags") or ()),
        "team_id": raw.get("team_id"),
    }


def _save_macro(request: HttpRequest, macro: Macro | None) -> HttpResponse:
    workspace, user = writer(request)
    actor = Actor.for_user(user)
    try:
        with transaction.atomic():
            if macro is None:
                macros.macro_create(
                    workspace=workspace,
                    actor=actor,
                    name=request.POST.get("name", ""),
                    body=request.POST.get("body", ""),
                    actions=_actions_from_form(request),
                    shared=bool(request.POST.get("shared")),
                )
            else:
                macros.macro_update(
                    macro=macro,
                    actor=actor,
                    name=request.POST.get("name", ""),
                    body=request.POST.get("body", ""),
                    actions=_actions_from_form(request),
                )
    except ValidationFailed as exc:
        return _macro_form(request, macro, error=exc.message, status=400)
    except DomainError as exc:
        raise PermissionDenied(exc.message) from None
    return redirect("inbox:macros")


def _macro_or_404(request: HttpRequest, macro_id: int) -> Macro:
    try:
        return macros.macro_get(
            workspace=current_workspace(request), user=user_of(request), macro_id=macro_id
        )
    except NotFound:
        raise Http404(_("No such macro.")) from None


@login_required
def macro_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _save_macro(request, None)
    return _macro_form(request, None)


@login_required
def macro_edit(request: HttpRequest, macro_id: int) -> HttpResponse:
    macro = _macro_or_404(request, macro_id)
    if request.method == "POST":
        return _save_macro(request, macro)
    return _macro_form(request, macro)


@login_required
@require_POST
def macro_delete(request: HttpRequest, macro_id: int) -> HttpResponse:
    macro = _macro_or_404(request, macro_id)
    _workspace, user = writer(request)
    try:
        with transaction.atomic():
            macros.macro_delete(macro=macro, actor=Actor.for_user(user))
    except DomainError as exc:
        raise PermissionDenied(exc.message) from None
    return redirect("inbox:macros")
