"""Shell views: login, home, health, language and workspace switch, jobs, audit log.

`current_workspace`, `is_htmx` and `render_in_workspace` are the small helpers every
server-rendered view of the product uses.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from typing import Any, cast

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from ascolto.accounts.models import User
from ascolto.accounts.preferences import user_set_locale
from ascolto.core.audit import audit_entries
from ascolto.core.middleware import SESSION_WORKSPACE_KEY
from ascolto.core.models import Job, Workspace

JOB_LIST_LIMIT = 100
AUDIT_PAGE_LIMIT = 200
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600


def is_htmx(request: HttpRequest) -> bool:
    """An htmx request that wants a fragment (a history restore wants the whole page)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def current_workspace(request: HttpRequest) -> Workspace:
    """The workspace the signed-in user works in; 403 when they belong to none."""
    workspace = getattr(request, "workspace", None)
    if not workspace:
        raise PermissionDenied(
            _("You are not a member of any workspace yet. Ask an administrator to add you.")
        )
    return cast(Workspace, workspace)


def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def render_in_workspace(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    """Render with the workspace's time zone active, so times read as the team's local time."""
    workspace = getattr(request, "workspace", None)
    zone = _zone(workspace.timezone) if workspace else dt.UTC
    with timezone.override(zone):
        response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def bad_request(request: HttpRequest, message: str) -> HttpResponse:
    """A 400 that says what was wrong, as a fragment for htmx and as a page otherwise."""
    template = "includes/error_fragment.html" if is_htmx(request) else "400.html"
    return render(request, template, {"message": message}, status=400)


def _set_language_cookie(response: HttpResponse, language: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )


class LoginView(auth_views.LoginView):
    """Django's login with our page; the user's saved language follows them to a new browser."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        user = form.get_user()
        if user.locale:
            _set_language_cookie(response, user.locale)
        return response


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("customers:list")


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch the interface language: saved on the user when signed in, and in a cookie always
    (so it also works on the login page)."""
    language = request.POST.get("language", "")
    if language not in dict(settings.LANGUAGES):
        return bad_request(request, _("Choose one of the languages offered."))
    if request.user.is_authenticated:
        with transaction.atomic():
            user_set_locale(user=request.user, locale=language)
    fallback = reverse("home") if request.user.is_authenticated else reverse("login")
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = fallback
    response = redirect(next_url)
    _set_language_cookie(response, language)
    return response


@login_required
@require_POST
def switch_workspace(request: HttpRequest) -> HttpResponse:
    """Work in another of the user's workspaces. Unknown ids and foreign workspaces are a 404."""
    try:
        wanted = int(request.POST.get("workspace", ""))
    except ValueError:
        return bad_request(request, _("Choose a workspace."))
    workspace = Workspace.objects.filter(
        pk=wanted, memberships__user=cast(User, request.user)
    ).first()
    if workspace is None:
        raise Http404(_("No such workspace."))
    request.session[SESSION_WORKSPACE_KEY] = workspace.pk
    return redirect("home")


@login_required
@require_GET
def job_list(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    jobs = list(
        Job.objects.filter(workspace=workspace)
        .select_related("created_by")
        .order_by("-created_at", "-id")[:JOB_LIST_LIMIT]
    )
    return render_in_workspace(request, "core/job_list.html", {"jobs": jobs, "section": "jobs"})


@login_required
@require_GET
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The job with its progress; htmx polls the progress fragment until the job finishes."""
    workspace = current_workspace(request)
    job = Job.objects.filter(workspace=workspace, pk=pk).select_related("created_by").first()
    if job is None:
        raise Http404(_("No such job in this workspace."))
    context = {"job": job, "section": "jobs", "result_rows": _result_rows(job.result)}
    template = "core/_job_progress.html" if is_htmx(request) else "core/job_detail.html"
    return render_in_workspace(request, template, context)


@dataclass(frozen=True)
class ResultRow:
    """One entry of a job's result: a value, or a list shown as a table (lists of objects)
    or as lines, cut to its first RESULT_LIST_LIMIT items."""

    key: str
    value: Any = None
    columns: list[str] = field(default_factory=list)
    table: list[list[Any]] = field(default_factory=list)
    lines: list[Any] = field(default_factory=list)
    is_list: bool = False
    total: int = 0

    @property
    def shown(self) -> int:
        return len(self.table) or len(self.lines)


RESULT_LIST_LIMIT = 100


def _result_rows(result: dict[str, Any]) -> list[ResultRow]:
    rows: list[ResultRow] = []
    for key, value in (result or {}).items():
        if not isinstance(value, list):
            rows.append(ResultRow(key=str(key), value=value))
            continue
        shown = value[:RESULT_LIST_LIMIT]
        if shown and all(isinstance(item, dict) for item in shown):
            columns = list(dict.fromkeys(k for item in shown for k in item))
            table = [[item.get(column, "") for column in columns] for item in shown]
            rows.append(
                ResultRow(
                    key=str(key),
                    columns=[str(c) for c in columns],
                    table=table,
                    is_list=True,
                    total=len(value),
                )
            )
        else:
            rows.append(ResultRow(key=str(key), lines=shown, is_list=True, total=len(value)))
    return rows


@login_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    entries = list(audit_entries(workspace=workspace, limit=AUDIT_PAGE_LIMIT))
    return render_in_workspace(
        request,
        "core/audit_log.html",
        {"entries": entries, "section": "audit", "limit": AUDIT_PAGE_LIMIT},
    )
