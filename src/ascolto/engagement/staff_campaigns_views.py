"""Staff pages for campaigns: the list with progress, the create form, and a campaign's page
with its report and the start / pause / resume / cancel buttons. Admins change campaigns;
every member may look. Every query is scoped to the signed-in user's workspace."""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ascolto.accounts.models import User
from ascolto.accounts.selectors import has_permission
from ascolto.core.actors import Actor
from ascolto.core.errors import Conflict, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.core.views import bad_request, current_workspace, is_htmx, render_in_workspace
from ascolto.customers.models import ConsentPurpose
from ascolto.engagement import campaigns, metrics, tasks
from ascolto.engagement.models import Campaign, MessageTemplate
from ascolto.inbox.models import Channel

SECTION = "campaigns"
ACTIONS = ("start", "pause", "resume", "cancel")


class CampaignForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    template_key = forms.ChoiceField(label=gettext_lazy("Message template"))
    purpose = forms.ChoiceField(
        label=gettext_lazy("Purpose"),
        choices=[
            (ConsentPurpose.MARKETING, gettext_lazy("Marketing")),
            (ConsentPurpose.SERVICE, gettext_lazy("Service")),
        ],
    )
    channel = forms.ChoiceField(label=gettext_lazy("Channel"))
    audience = forms.CharField(
        label=gettext_lazy("Audience conditions (JSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "dir": "ltr"}),
        help_text=gettext_lazy(
            'Empty for every customer. Example: {"field": "customer.value_tier", "op": "in", '
            '"value": ["gold", "platinum"]}'
        ),
    )
    holdout_percent = forms.IntegerField(
        label=gettext_lazy("Hold-out group (%)"), min_value=0, max_value=50, initial=0
    )
    throttle_per_minute = forms.IntegerField(
        label=gettext_lazy("Messages per minute on each channel (0: no limit)"),
        min_value=0,
        initial=0,
    )
    conversion_window_days = forms.IntegerField(
        label=gettext_lazy("Conversion window (days)"), min_value=1, max_value=90, initial=7
    )

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        keys = (
            MessageTemplate.objects.filter(workspace=workspace)
            .order_by("key")
            .values_list("key", flat=True)
            .distinct()
        )
        cast(forms.ChoiceField, self.fields["template_key"]).choices = [(k, k) for k in keys]
        cast(forms.ChoiceField, self.fields["channel"]).choices = [
            (Campaign.PREFERRED, _("Each customer's preferred channel")),
            *Channel.choices,
        ]

    def clean_audience(self) -> dict[str, Any]:
        text = (self.cleaned_data.get("audience") or "").strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(
                _("This is not valid JSON (line %(line)s, column %(column)s).")
                % {"line": getattr(exc, "lineno", "?"), "column": getattr(exc, "colno", "?")}
            ) from exc
        if not isinstance(value, dict):
            raise forms.ValidationError(_("The conditions are one JSON object."))
        return value


def _campaign_or_404(workspace: Workspace, pk: int) -> Campaign:
    found = Campaign.objects.filter(workspace=workspace, pk=pk).first()
    if found is None:
        raise Http404(_("No such campaign in this workspace."))
    return found


def _can_edit(request: HttpRequest, workspace: Workspace) -> bool:
    user = cast(User, request.user)
    return has_permission(user=user, workspace=workspace, permission="admin")


@login_required
@require_GET
def campaign_list(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    items = list(Campaign.objects.filter(workspace=workspace).order_by("-created_at", "-id")[:200])
    return render_in_workspace(
        request,
        "engagement/campaigns/list.html",
        {"campaigns": items, "can_edit": _can_edit(request, workspace), "section": SECTION},
    )


@login_required
@require_http_methods(["GET", "POST"])
def campaign_new(request: HttpRequest) -> HttpResponse:
    workspace = current_workspace(request)
    if not _can_edit(request, workspace):
        raise PermissionDenied(_("Only workspace owners and admins can create campaigns."))
    form = CampaignForm(request.POST or None, workspace=workspace)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                campaign = campaigns.campaign_create(
                    workspace=workspace,
                    actor=Actor.for_user(cast(User, request.user)),
                    name=data["name"],
                    template_key=data["template_key"],
                    audience=data["audience"],
                    purpose=data["purpose"],
                    channel=data["channel"],
                    holdout_percent=data["holdout_percent"],
                    throttle_per_minute=data["throttle_per_minute"],
                    conversion_window_days=data["conversion_window_days"],
                )
        except ValidationFailed as exc:
            for key, errors in (exc.field_errors or {}).items():
                name = key.split(".")[0]
                where = "" if key == name else f"{key}: "
                for error in errors:
                    form.add_error(name if name in form.fields else None, f"{where}{error}")
        else:
            messages.success(request, _("Campaign saved as a draft."))
            return redirect("engagement_campaigns:detail", pk=campaign.pk)
    status = 400 if request.method == "POST" else 200
    return render_in_workspace(
        request,
        "engagement/campaigns/form.html",
        {"form": form, "section": SECTION},
        status=status,
    )


@login_required
@require_GET
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    workspace = current_workspace(request)
    campaign = _campaign_or_404(workspace, pk)
    context = {
        "campaign": campaign,
        "report": metrics.campaign_report(campaign=campaign),
        "audience_json": json.dumps(campaign.audience, indent=2, ensure_ascii=False),
        "can_edit": _can_edit(request, workspace),
        "section": SECTION,
    }
    if is_htmx(request):
        return render_in_workspace(request, "engagement/campaigns/_progress.html", context)
    return render_in_workspace(request, "engagement/campaigns/detail.html", context)


@login_required
@require_POST
def campaign_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    workspace = current_workspace(request)
    if action not in ACTIONS:
        raise Http404(_("Unknown action."))
    if not _can_edit(request, workspace):
        raise PermissionDenied(_("Only workspace owners and admins can change campaigns."))
    actor = Actor.for_user(cast(User, request.user))
    try:
        with transaction.atomic():
            campaign = _campaign_or_404(workspace, pk)
            if action in ("start", "resume"):
                job = (
                    campaigns.campaign_start(campaign=campaign, actor=actor)
                    if action == "start"
                    else campaigns.campaign_resume(campaign=campaign, actor=actor)
                )
                campaign_id, job_id = campaign.pk, job.pk
                transaction.on_commit(lambda: tasks.run_campaign(campaign_id, job_id))
            elif action == "pause":
                campaigns.campaign_pause(campaign=campaign, actor=actor)
            else:
                campaigns.campaign_cancel(campaign=campaign, actor=actor)
    except Conflict as exc:
        return bad_request(request, exc.message)
    notices = {
        "start": _("Campaign started."),
        "resume": _("Campaign resumed."),
        "pause": _("Campaign paused: it stops after the current batch."),
        "cancel": _("Campaign cancelled."),
    }
    messages.success(request, notices[action])
    return redirect("engagement_campaigns:detail", pk=pk)
