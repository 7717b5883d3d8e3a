"""Staff pages of engagement: the rules overview, the rule builder with its dry run, message
templates with a live preview, the sends, and the guard-rail settings.

Every member reads (and may dry-run or preview, which store nothing); writes need the workspace
"admin" permission. Reads go through `engagement.selectors`, writes through the same services
the API calls, so a form shows the API's validation errors next to its fields.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ascolto.accounts.models import User
from ascolto.accounts.selectors import has_permission
from ascolto.core.actors import Actor
from ascolto.core.errors import NotFound, ValidationFailed
from ascolto.core.models import Workspace
from ascolto.core.views import current_workspace, is_htmx, render_in_workspace
from ascolto.customers.models import ConsentPurpose, Customer
from ascolto.engagement import (
    guards,
    metrics,
    rule_updates,
    selectors,
    services,
    settings_services,
    staff_forms,
    templates_render,
)
from ascolto.engagement.action_types import ACTIONS
from ascolto.engagement.models import EventType, MessageTemplate, Rule, Send
from ascolto.engagement.rules import OPERATORS
from ascolto.inbox.models import Channel

SECTION = "engagement"
PURPOSES = [(p.value, p.label) for p in (ConsentPurpose.SERVICE, ConsentPurpose.MARKETING)]


def _member(request: HttpRequest) -> tuple[Workspace, User]:
    return current_workspace(request), cast(User, request.user)


def _admin(request: HttpRequest) -> tuple[Workspace, User]:
    workspace, user = _member(request)
    if not has_permission(user=user, workspace=workspace, permission="admin"):
        raise PermissionDenied(_("Only workspace owners and admins can change engagement."))
    return workspace, user


def _can_write(request: HttpRequest, workspace: Workspace) -> bool:
    user = cast(User, request.user)
    return has_permission(user=user, workspace=workspace, permission="admin")


def _rule_or_404(workspace: Workspace, pk: int) -> Rule:
    try:
        return selectors.rule_get(workspace=workspace, rule_id=pk)
    except NotFound:
        raise Http404(_("No such rule in this workspace.")) from None


def _template_or_404(workspace: Workspace, pk: int) -> MessageTemplate:
    try:
        return selectors.template_get(workspace=workspace, template_id=pk)
    except NotFound:
        raise Http404(_("No such template in this workspace.")) from None


# --- Overview and rules ---------------------------------------------------------------------


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    workspace, _user = _member(request)
    found = selectors.rules_with_recent_sends(workspace=workspace)
    for rule in found:
        recent = rule.recent  # type: ignore[attr-defined]
        rule.recent_rows = [  # type: ignore[attr-defined]
            (value, label, recent.get(value, 0)) for value, label in Send.Status.choices
        ]
    context = {
        "rules": found,
        "statuses": Send.Status.choices,
        "can_write": _can_write(request, workspace),
        "section": SECTION,
    }
    return render_in_workspace(request, "engagement/staff/overview.html", context)


RESULTS_DAYS = 7


def _builder_context(
    request: HttpRequest,
    workspace: Workspace,
    form: staff_forms.Builder,
    rule: Rule | None,
    errors: dict[str, list[str]] | None = None,
    message: str = "",
) -> dict[str, Any]:
    return {
        "rule": rule,
        "form": form,
        "cond_rows": len(form.conditions),
        "action_rows": len(form.actions),
        "errors": errors or {},
        "message": message,
        "triggers": Rule._meta.get_field("trigger").choices,
        "purposes": PURPOSES,
        "operators": list(OPERATORS),
        "fields": staff_forms.FIELDS,
        "action_types": list(ACTIONS.values()),
        "can_write": _can_write(request, workspace),
        "event_types": EventType.choices,
        "section": SECTION,
    }


def _rule_form(request: HttpRequest, rule: Rule | None) -> HttpResponse:
    workspace, user = _member(request)
    if request.method == "GET":
        form = staff_forms.builder_from_rule(rule)
        context = _builder_context(request, workspace, form, rule)
        if rule is not None:  # what the rule did, against its hold-out group
            context["results"] = metrics.rule_metrics(rule=rule, days=RESULTS_DAYS)
        return render_in_workspace(request, "engagement/staff/rule_form.html", context)
    workspace, user = _admin(request)
    form = staff_forms.builder_from_post(request.POST)
    if {"add_condition", "add_action", "refresh"} & set(request.POST) or any(
        key.endswith("-remove") for key in request.POST
    ):
        # Growing or shrinking the rows: show the form again, save nothing.
        if "add_condition" in request.POST:
            form.conditions.append(staff_forms.ConditionRow())
        if "add_action" in request.POST:
            form.actions.append(staff_forms.ActionRow())
        context = _builder_context(request, workspace, form, rule)
        return render_in_workspace(request, "engagement/staff/rule_form.html", context)
    fields = {
        "actor": Actor.for_user(user),
        "name": form.name,
        "trigger": form.trigger,
        "conditions": staff_forms.conditions_of(form),
        "actions": staff_forms.actions_of(form),
        "purpose": form.purpose,
        "is_active": form.is_active,
        "trigger_settings": staff_forms.trigger_settings_of(form),
        "holdout_percent": staff_forms.holdout_of(form),
    }
    try:
        with transaction.atomic():
            if rule is None:
                rule = services.rule_create(workspace=workspace, **fields)
            else:
                rule = rule_updates.rule_update(rule=rule, **fields)
    except ValidationFailed as exc:
        errors = staff_forms.attach_errors(form, staff_forms.errors_by_row(exc.field_errors, form))
        context = _builder_context(request, workspace, form, rule, errors, exc.message)
        return render_in_workspace(request, "engagement/staff/rule_form.html", context, status=400)
    messages.success(request, _("Rule saved."))
    return redirect("engagement_staff:rule", pk=rule.pk)


@login_required
@require_http_methods(["GET", "POST"])
def rule_new(request: HttpRequest) -> HttpResponse:
    return _rule_form(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _rule_form(request, _rule_or_404(current_workspace(request), pk))


@login_required
@require_POST
def rule_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    workspace, user = _admin(request)
    rule = _rule_or_404(workspace, pk)
    with transaction.atomic():
        services.rule_set_active(
            rule=rule, actor=Actor.for_user(user), is_active=request.POST.get("active") == "on"
        )
    if is_htmx(request):
        context = {"rule": rule, "can_write": True}
        return render_in_workspace(request, "engagement/staff/_toggle.html", context)
    return redirect("engagement_staff:overview")


# --- Dry run --------------------------------------------------------------------------------


def _customer_from(workspace: Workspace, text: str) -> Customer:
    found = selectors.customer_search(workspace=workspace, query=text, limit=2)
    if len(found) != 1:
        message = _("Pick one customer: type more of their name or email, or #id.")
        raise ValidationFailed(message, field_errors={"customer": [message]})
    return found[0]


@login_required
@require_POST
def rule_dry_run(request: HttpRequest, pk: int) -> HttpResponse:
    """What the rule would do for a sample event; stores and sends nothing."""
    workspace, _user = _member(request)
    rule = _rule_or_404(workspace, pk)
    sample = {
        "customer": request.POST.get("customer", ""),
        "event_type": request.POST.get("event_type", rule.trigger),
        "order": request.POST.get("order", "").strip(),
        "payload": request.POST.get("payload", "").strip(),
    }
    result: dict[str, Any] | None = None
    errors: dict[str, list[str]] = {}
    try:
        customer = _customer_from(workspace, sample["customer"])
        try:
            payload = json.loads(sample["payload"] or "{}")
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            message = _('A JSON object, such as {"new_date": "2026-03-12"}.')
            raise ValidationFailed(message, field_errors={"payload": [message]})
        data = services.EventInput(
            external_id="dry-run",
            type=sample["event_type"],
            customer=services.CustomerRef(id=customer.pk),
            order=services.OrderRef(external_id=sample["order"]) if sample["order"] else None,
            payload=payload,
        )
        # A rollback guard: the dry run is documented to write nothing.
        with transaction.atomic():
            result = selectors.dry_run(rule=rule, data=data)
            result["customer"] = customer
            transaction.set_rollback(True)
    except ValidationFailed as exc:
        errors = {k.removeprefix("order."): v for k, v in exc.field_errors.items()} or {
            "form": [exc.message]
        }
        if "total" in errors:
            errors["order"] = [_("No such order: give the external id of an existing order.")]
    context = {"rule": rule, "sample": sample, "result": result, "errors": errors}
    context["event_types"] = EventType.choices
    template = "engagement/staff/_dry_run.html"
    if not is_htmx(request):
        workspace_form = staff_forms.builder_from_rule(rule)
        context = {**_builder_context(request, workspace, workspace_form, rule), **context}
        template = "engagement/staff/rule_form.html"
    # htmx swaps only 2xx answers: its fragment carries the errors with a 200.
    status = 400 if errors and not is_htmx(request) else 200
    return render_in_workspace(request, template, context, status=status)


@login_required
@require_GET
def customer_search(request: HttpRequest) -> HttpResponse:
    workspace, _user = _member(request)
    found = selectors.customer_search(workspace=workspace, query=request.GET.get("customer", ""))
    return render_in_workspace(
        request, "engagement/staff/_customer_options.html", {"customers": found}
    )


# --- Sends ----------------------------------------------------------------------------------


def _sends(request: HttpRequest, rule: Rule | None) -> HttpResponse:
    workspace, _user = _member(request)
    status = request.GET.get("status", "")
    if status and status not in Send.Status.values:
        status = ""
    context = {
        "rule": rule,
        "sends": selectors.sends_list(workspace=workspace, rule=rule, status=status),
        "status": status,
        "statuses": Send.Status.choices,
        "section": SECTION,
    }
    return render_in_workspace(request, "engagement/staff/sends.html", context)


@login_required
@require_GET
def send_list(request: HttpRequest) -> HttpResponse:
    return _sends(request, None)


@login_required
@require_GET
def rule_sends(request: HttpRequest, pk: int) -> HttpResponse:
    return _sends(request, _rule_or_404(current_workspace(request), pk))


# --- Templates ------------------------------------------------------------------------------


@login_required
@require_GET
def template_list(request: HttpRequest) -> HttpResponse:
    workspace, _user = _member(request)
    context = {
        "groups": selectors.templates_by_key(workspace=workspace),
        "can_write": _can_write(request, workspace),
        "section": SECTION,
    }
    return render_in_workspace(request, "engagement/staff/templates.html", context)


TEMPLATE_FIELDS = ("key", "channel", "language", "subject", "body")


def _template_context(
    request: HttpRequest, workspace: Workspace, template: MessageTemplate | None, **extra: Any
) -> dict[str, Any]:
    values = {f: getattr(template, f) for f in TEMPLATE_FIELDS} if template else {}
    values.setdefault("channel", "any")
    return {
        "template": template,
        "values": values,
        "errors": {},
        "channels": [("any", _("Any channel")), *Channel.choices],
        "can_write": _can_write(request, workspace),
        "section": SECTION,
        **extra,
    }


def _template_form(request: HttpRequest, template: MessageTemplate | None) -> HttpResponse:
    workspace, _user = _member(request)
    if request.method == "GET":
        context = _template_context(request, workspace, template)
        return render_in_workspace(request, "engagement/staff/template_form.html", context)
    workspace, user = _admin(request)
    values = {f: request.POST.get(f, "") for f in TEMPLATE_FIELDS}
    try:
        with transaction.atomic():
            if template is not None and (
                values["key"],
                values["channel"],
                values["language"].lower(),
            ) != (template.key, template.channel, template.language):
                raise ValidationFailed(
                    _("Key, channel and language name the template; add a new one to change them."),
                    field_errors={"key": [_("Cannot be changed here.")]},
                )
            saved = services.template_upsert(
                workspace=workspace,
                actor=Actor.for_user(user),
                key=values["key"].strip(),
                language=values["language"].strip(),
                channel=values["channel"] or "any",
                subject=values["subject"],
                body=values["body"],
            )
    except ValidationFailed as exc:
        context = _template_context(
            request, workspace, template, errors=exc.field_errors, message=exc.message
        )
        context["values"] = values
        return render_in_workspace(
            request, "engagement/staff/template_form.html", context, status=400
        )
    messages.success(request, _("Template saved."))
    return redirect("engagement_staff:template", pk=saved.pk)


@login_required
@require_http_methods(["GET", "POST"])
def template_new(request: HttpRequest) -> HttpResponse:
    return _template_form(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _template_form(request, _template_or_404(current_workspace(request), pk))


@login_required
@require_POST
def template_preview(request: HttpRequest) -> HttpResponse:
    """The subject and body as typed, rendered for a real customer; stores nothing."""
    workspace, _user = _member(request)
    values = {f: request.POST.get(f, "") for f in TEMPLATE_FIELDS}
    preview: templates_render.Rendered | None = None
    error = ""
    customer_text = request.POST.get("customer", "")
    try:
        customer = _customer_from(workspace, customer_text)
        templates_render.check_template(values["body"], field="body")
        templates_render.check_template(values["subject"], field="subject")
        order = customer.orders.order_by("-placed_at").first()
        preview = templates_render.render(
            body=values["body"],
            subject=values["subject"],
            customer=customer,
            order=order,
            event_payload={},
        )
    except ValidationFailed as exc:
        details = " ".join(m for errs in exc.field_errors.values() for m in errs)
        error = f"{exc.message} {details}".strip()
    except Exception as exc:
        error = _("The template could not be rendered: %(error)s") % {"error": exc}
    language = (values["language"] or (preview.language if preview else "")).lower()
    context = {
        "preview": preview,
        "error": error,
        "direction": "rtl" if language[:2] in templates_render.RTL_LANGUAGES else "ltr",
        "preview_language": language,
        "customer_text": customer_text,
    }
    if is_htmx(request):
        return render_in_workspace(request, "engagement/staff/_preview.html", context)
    template_pk = request.POST.get("template_id", "")
    template = _template_or_404(workspace, int(template_pk)) if template_pk.isdigit() else None
    full = _template_context(request, workspace, template, **context)
    full["values"] = values
    return render_in_workspace(request, "engagement/staff/template_form.html", full)


# --- Settings -------------------------------------------------------------------------------


class SettingsForm(forms.Form):
    quiet_start = forms.TimeField(label=gettext_lazy("Quiet hours start"))
    quiet_end = forms.TimeField(label=gettext_lazy("Quiet hours end"))
    cap_count = forms.IntegerField(
        label=gettext_lazy("At most this many proactive messages per customer"),
        min_value=0,
        max_value=settings_services.MAX_CAP_COUNT,
    )
    cap_window_hours = forms.IntegerField(
        label=gettext_lazy("Within this many hours"),
        min_value=1,
        max_value=settings_services.MAX_CAP_WINDOW_HOURS,
    )


def _settings_page(request: HttpRequest, form: SettingsForm, *, status: int = 200) -> HttpResponse:
    workspace = current_workspace(request)
    config = guards.settings_for(workspace.pk)
    hooks = [
        (label, request.build_absolute_uri(reverse(name, args=[workspace.slug])))
        for label, name in (
            (_("Generic"), "engagement:generic_webhook"),
            (_("Shopify"), "engagement:shopify_webhook"),
        )
    ]
    context = {"form": form, "config": config, "hooks": hooks, "section": SECTION}
    return render_in_workspace(request, "engagement/staff/settings.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    """Quiet hours, the frequency cap and the webhooks (admins only: the page shows the secret)."""
    workspace, user = _admin(request)
    if request.method == "GET":
        with transaction.atomic():
            config = guards.settings_for(workspace.pk)
        initial = {
            f: getattr(config, f)
            for f in ("quiet_start", "quiet_end", "cap_count", "cap_window_hours")
        }
        return _settings_page(request, SettingsForm(initial=initial))
    form = SettingsForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                settings_services.settings_update(
                    workspace=workspace,
                    actor=Actor.for_user(user),
                    quiet_start=cast(dt.time, data["quiet_start"]),
                    quiet_end=cast(dt.time, data["quiet_end"]),
                    cap_count=int(data["cap_count"]),
                    cap_window_hours=int(data["cap_window_hours"]),
                )
        except ValidationFailed as exc:
            for name, errs in exc.field_errors.items():
                for err in errs:
                    form.add_error(name if name in form.fields else None, err)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("engagement_staff:settings")
    return _settings_page(request, form, status=400)


@login_required
@require_POST
def settings_regenerate_secret(request: HttpRequest) -> HttpResponse:
    workspace, user = _admin(request)
    if request.POST.get("confirm") != "yes":
        messages.error(request, _("Tick the box to confirm: the old secret stops working."))
        return redirect("engagement_staff:settings")
    with transaction.atomic():
        settings_services.webhook_secret_regenerate(workspace=workspace, actor=Actor.for_user(user))
    messages.success(request, _("A new webhook secret was made. Give it to the sending systems."))
    return redirect("engagement_staff:settings")
