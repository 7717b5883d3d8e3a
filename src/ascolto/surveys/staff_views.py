"""Staff pages for surveys: the list, a survey's report, its responses and the follow-up queue.

Reads go through `surveys.selectors`, writes through `surveys.services`; every query is scoped
to the signed-in user's workspace.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from ascolto.accounts.selectors import has_permission
from ascolto.core.actors import Actor
from ascolto.core.errors import Conflict, NotFound, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.core.views import bad_request, current_workspace, render_in_workspace
from ascolto.surveys import listing, selectors, services
from ascolto.surveys.models import FollowUp, Survey
from ascolto.surveys.themes import pain_points

PAGE = 50
COMPLETED_FILTERS: dict[str, bool | None] = {"": None, "yes": True, "no": False}
SECTION = "surveys"


def _survey_or_404(workspace: Workspace, pk: int) -> Survey:
    try:
        return selectors.survey_get(workspace=workspace, survey_id=pk)
    except NotFound:
        raise Http404(_("No such survey in this workspace.")) from None


@login_required
@require_GET
def survey_list(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    try:
        page = selectors.survey_list(
            workspace=workspace, cursor=request.GET.get("cursor") or None, limit=PAGE
        )
    except ValidationFailed:
        return bad_request(request, _("This page link is no longer valid."))
    return render_in_workspace(
        request,
        "surveys/staff/list.html",
        {
            "page": page,
            "section": SECTION,
            "can_edit": has_permission(
                user=request.user,  # type: ignore[arg-type]
                workspace=workspace,
                permission="admin",
            ),
        },
    )


@login_required
@require_GET
def survey_report(request: HttpRequest, pk: int) -> HttpResponse:
    """NPS with its 95% interval, CSAT %, CES average and response rate, with one breakdown."""
    workspace = current_workspace(request)
    survey = _survey_or_404(workspace, pk)
    by = request.GET.get("by", "channel")
    if by not in selectors.BREAKDOWNS:
        return bad_request(request, _("Unknown breakdown."))
    result = selectors.metric_counts(
        workspace=workspace, filters=selectors.ResponseFilter(survey_id=survey.pk), by=by
    )
    comment_themes = selectors.comment_themes(workspace=workspace, survey_id=survey.pk)
    trend = selectors.metric_trend(workspace=workspace, survey_id=survey.pk)
    context = {
        "survey": survey,
        "result": result,
        "trend": trend,
        "trend_kind": survey.kind if survey.kind in ("nps", "csat", "ces") else "",
        "themes": [
            (language, found, pain_points(found)) for language, found in comment_themes.items()
        ],
        "by": by,
        "breakdowns": [b for b in selectors.BREAKDOWNS if b != "survey"],
        "section": SECTION,
    }
    return render_in_workspace(request, "surveys/staff/report.html", context)


@login_required
@require_GET
def response_list(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = current_workspace(request)
    survey = _survey_or_404(workspace, pk)
    completed = request.GET.get("completed", "")
    if completed not in COMPLETED_FILTERS:
        return bad_request(request, _("The completed filter must be “yes”, “no” or empty."))
    try:
        page = listing.response_rows(
            workspace=workspace,
            survey_id=survey.pk,
            completed=COMPLETED_FILTERS[completed],
            cursor=request.GET.get("cursor") or None,
            limit=PAGE,
        )
    except ValidationFailed:
        return bad_request(request, _("This page link is no longer valid."))
    context = {"survey": survey, "page": page, "completed": completed, "section": SECTION}
    return render_in_workspace(request, "surveys/staff/responses.html", context)


@login_required
@require_GET
def followup_queue(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    status = request.GET.get("status", "")
    if status and status not in FollowUp.Status.values:
        return bad_request(request, _("Unknown follow-up status."))
    try:
        page = selectors.followup_list(
            workspace=workspace,
            status=status or None,
            cursor=request.GET.get("cursor") or None,
            limit=PAGE,
        )
    except ValidationFailed:
        return bad_request(request, _("This page link is no longer valid."))
    context = {
        "page": page,
        "status": status,
        "statuses": FollowUp.Status.choices,
        "root_causes": [c for c in FollowUp.RootCause.choices if c[0]],
        "closed": FollowUp.Status.CLOSED,
        "section": SECTION,
    }
    return render_in_workspace(request, "surveys/staff/followups.html", context)


@login_required
@require_POST
def followup_update(request: HttpRequest, pk: int) -> HttpResponse:
    """Record the first contact (`step=contact`) or close the loop (`step=close`: root cause,
    action taken and the message that tells the customer what changed)."""
    workspace = current_workspace(request)
    step = request.POST.get("step", "")
    if step not in ("contact", "close"):
        return bad_request(request, _("Unknown follow-up step."))
    actor = Actor.for_user(request.user)  # type: ignore[arg-type]
    try:
        with transaction.atomic():
            followup = selectors.followup_get(workspace=workspace, followup_id=pk)
            if step == "contact":
                services.followup_record_contact(followup=followup, actor=actor)
            else:
                services.followup_close_loop(
                    followup=followup,
                    root_cause=request.POST.get("root_cause", ""),
                    action_taken=request.POST.get("action_taken", ""),
                    message=request.POST.get("message", ""),
                    actor=actor,
                )
    except NotFound:
        raise Http404(_("No such follow-up in this workspace.")) from None
    except ValidationFailed as exc:
        details = " ".join(m for errs in exc.field_errors.values() for m in errs)
        return bad_request(request, f"{exc.message} {details}".strip())
    except Conflict as exc:
        return bad_request(request, exc.message)
    messages.success(request, _("Follow-up updated."))
    return redirect("surveys_staff:followups")
