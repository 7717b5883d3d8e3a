"""Employee NPS screens: the card that asks an agent in the console (loaded by htmx, answered
with htmx, or with a plain form post without JavaScript), and the admins' page with the
schedule and the past pulses."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ascolto.accounts.models import User
from ascolto.accounts.selectors import has_permission
from ascolto.analytics.enps import metric, selectors, services
from ascolto.analytics.enps.models import COMMENT_MAX_LENGTH, MAX_OPEN_DAYS, Cadence
from ascolto.core.actors import Actor
from ascolto.core.errors import Conflict, Forbidden, ValidationFailed
from ascolto.core.views import bad_request, current_workspace, is_htmx, render_in_workspace

SCORES = range(metric.SCORE_MIN, metric.SCORE_MAX + 1)


@login_required
@require_GET
def enps_prompt(request: HttpRequest) -> HttpResponse:
    """The question card for the signed-in agent, or nothing when there is no open pulse they
    were asked and have not answered."""
    workspace = current_workspace(request)
    user = cast(User, request.user)
    pulse = selectors.pulse_to_ask(workspace=workspace, user=user, now=timezone.now())
    if pulse is None:
        return HttpResponse("")
    return render_in_workspace(
        request,
        "analytics/enps/_prompt.html",
        {"pulse": pulse, "scores": SCORES, "comment_max": COMMENT_MAX_LENGTH},
    )


@login_required
@require_GET
def enps_dismiss(request: HttpRequest) -> HttpResponse:
    """ "Not now": the card goes away for this visit; nothing is stored, so it comes back on the
    next visit until the agent answers or the pulse closes."""
    return HttpResponse("")


@login_required
@require_POST
def enps_answer(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = current_workspace(request)
    user = cast(User, request.user)
    pulse = selectors.pulse_of(workspace=workspace, pk=pk)
    if pulse is None:
        raise Http404(_("No such pulse."))
    try:
        score = int(request.POST.get("score", ""))
    except ValueError:
        return bad_request(request, _("Choose a number from 0 to 10."))
    try:
        with transaction.atomic():
            _answer, replaced = services.pulse_answer(
                pulse=pulse,
                user=user,
                score=score,
                comment=request.POST.get("comment", ""),
                now=timezone.now(),
            )
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None
    except (Conflict, ValidationFailed) as exc:
        details = " ".join(m for msgs in exc.field_errors.values() for m in msgs)
        return bad_request(request, details or exc.message)
    if is_htmx(request):
        return render_in_workspace(
            request, "analytics/enps/_thanks.html", {"pulse": pulse, "replaced": replaced}
        )
    messages.success(request, _("Thank you: your answer is anonymous."))
    return redirect("inbox:console")


@login_required
@require_http_methods(["GET", "POST"])
def enps_page(request: HttpRequest) -> HttpResponse:
    """Admins: the schedule (POST changes it) and the latest pulses with their figures and
    comments."""
    workspace = current_workspace(request)
    user = cast(User, request.user)
    if not has_permission(user=user, workspace=workspace, permission="admin"):
        raise PermissionDenied(_("Only admins see the employee NPS page."))
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            open_days = int(request.POST.get("open_days", ""))
        except ValueError:
            open_days = 0
        try:
            with transaction.atomic():
                services.schedule_set(
                    workspace=workspace,
                    cadence=request.POST.get("cadence", ""),
                    open_days=open_days,
                    actor=Actor.for_user(user),
                )
        except ValidationFailed as exc:
            errors = exc.field_errors
        else:
            messages.success(request, _("Pulse schedule saved."))
            return redirect("analytics:enps")
    now = timezone.now()
    return render_in_workspace(
        request,
        "analytics/enps/page.html",
        {
            "section": "analytics",
            "schedule": selectors.schedule_of(workspace=workspace),
            "cadences": Cadence.choices,
            "max_open_days": MAX_OPEN_DAYS,
            "results": selectors.pulse_results(workspace=workspace, now=now, with_comments=True),
            "min_answers": metric.MIN_ANSWERS,
            "errors": errors,
        },
        status=422 if errors else 200,
    )
