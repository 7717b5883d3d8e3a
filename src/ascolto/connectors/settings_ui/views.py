"""Channel settings pages (owners and admins only): the list, the add/edit forms per kind, and
the "send test" button, whose outcome is recorded as the channel's last check."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from ascolto.accounts.models import User
from ascolto.accounts.selectors import has_permission
from ascolto.connectors.api_channel.config import webhook_settings
from ascolto.connectors.email.models import Mailbox
from ascolto.connectors.meta.models import MetaAccount
from ascolto.connectors.settings_ui import checks, selectors, services
from ascolto.connectors.settings_ui.forms import (
    LANGUAGES,
    ApiChannelForm,
    AutoReplyForm,
    ChannelForm,
    MailboxForm,
    MetaForm,
    SendTestForm,
    TwilioForm,
)
from ascolto.connectors.settings_ui.models import AutoReplySettings
from ascolto.connectors.twilio.models import TwilioAccount
from ascolto.core.actors import Actor
from ascolto.core.errors import ValidationFailed
from ascolto.core.models import Workspace
from ascolto.core.views import current_workspace, render_in_workspace
from ascolto.inbox.models import BusinessHours, Inbox

FORMS: dict[str, type[ChannelForm]] = {
    selectors.EMAIL: MailboxForm,
    selectors.TWILIO: TwilioForm,
    selectors.META: MetaForm,
    selectors.API: ApiChannelForm,
}


def _admin(request: HttpRequest) -> tuple[Workspace, User]:
    workspace, user = current_workspace(request), cast(User, request.user)
    if not has_permission(user=user, workspace=workspace, permission="admin"):
        raise PermissionDenied(_("Only workspace owners and admins can set channels up."))
    return workspace, user


def _inbox(workspace: Workspace, inbox_id: int) -> Inbox:
    inbox = selectors.inbox_get(workspace=workspace, inbox_id=inbox_id)
    if inbox is None:
        raise Http404(_("No such channel in this workspace."))
    return inbox


def _kind_labels() -> dict[str, str]:
    return {
        selectors.EMAIL: _("Email mailbox (IMAP/SMTP)"),
        selectors.TWILIO: _("Twilio (SMS, WhatsApp)"),
        selectors.META: _("Meta (WhatsApp Cloud, Messenger, Instagram)"),
        selectors.API: _("API channel"),
    }


@login_required
@require_http_methods(["GET"])
def channel_list(request: HttpRequest) -> HttpResponse:
    workspace, _user = _admin(request)
    context = {
        "section": "channels",
        "rows": selectors.channel_rows(workspace=workspace),
        "kinds": list(_kind_labels().items()),
    }
    return render_in_workspace(request, "channel_settings/list.html", context)


def _connector(inbox: Inbox, kind: str) -> Any:
    if kind == selectors.EMAIL:
        return Mailbox.objects.get(inbox=inbox)
    if kind == selectors.TWILIO:
        return TwilioAccount.objects.get(inbox=inbox)
    if kind == selectors.META:
        return MetaAccount.objects.get(inbox=inbox)
    return inbox


def _initial(inbox: Inbox, kind: str, connector: Any) -> dict[str, Any]:
    initial: dict[str, Any] = {"name": inbox.name}
    form_class = FORMS[kind]
    for name in form_class.base_fields:
        if name in form_class.secret_fields or name == "name":
            continue
        if kind == selectors.API and name == "webhook_url":
            initial[name] = webhook_settings(inbox.config).url
        elif hasattr(connector, name):
            initial[name] = getattr(connector, name)
    return initial


def _secrets_set(kind: str, connector: Any) -> dict[str, bool]:
    """Which secrets are stored, from the ciphertext column alone (nothing is decrypted)."""
    return {
        name: bool(getattr(connector, f"{name}_encrypted", ""))
        for name in FORMS[kind].secret_fields
    }


def _save(
    workspace: Workspace, user: User, kind: str, connector: Any, data: dict[str, Any]
) -> tuple[Inbox, str | None]:
    actor = Actor.for_user(user)
    if kind == selectors.EMAIL:
        return services.mailbox_save(
            workspace=workspace, actor=actor, mailbox=connector, data=data
        ).inbox, None
    if kind == selectors.TWILIO:
        return services.twilio_save(
            workspace=workspace, actor=actor, account=connector, data=data
        ).inbox, None
    if kind == selectors.META:
        return services.meta_save(
            workspace=workspace, actor=actor, account=connector, data=data
        ).inbox, None
    return services.api_channel_save(workspace=workspace, actor=actor, inbox=connector, data=data)


def _form_page(
    request: HttpRequest, kind: str, inbox: Inbox | None, connector: Any
) -> HttpResponse:
    workspace, user = _admin(request)
    form_class = FORMS[kind]
    editing = inbox is not None
    status = 200
    if request.method == "POST":
        form = form_class(request.POST, editing=editing)
        if form.is_valid():
            try:
                with transaction.atomic():
                    saved, secret = _save(workspace, user, kind, connector, form.cleaned_data)
            except ValidationFailed as exc:
                form.add_error(None, exc.message)
                for field, messages in (exc.field_errors or {}).items():
                    for message in messages:
                        form.add_error(field if field in form.fields else None, message)
            else:
                if secret:
                    return render_in_workspace(
                        request,
                        "channel_settings/secret.html",
                        {"section": "channels", "inbox": saved, "secret": secret},
                    )
                return redirect("channel_settings:list")
        status = 400
    else:
        initial = _initial(inbox, kind, connector) if inbox is not None else {}
        form = form_class(initial=initial, editing=editing)
    context = {
        "section": "channels",
        "form": form,
        "kind": kind,
        "kind_label": _kind_labels()[kind],
        "inbox": inbox,
        "secret_names": list(form_class.secret_fields) if editing else [],
        "secrets_present": [n for n, v in _secrets_set(kind, connector).items() if v]
        if editing
        else [],
        "can_email_test": kind == selectors.EMAIL,
    }
    if editing and kind == selectors.META:
        form.fields["platform"].disabled = True
    if editing and kind != selectors.API:
        context["test_form"] = SendTestForm()
    return render_in_workspace(request, "channel_settings/form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def channel_new(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in FORMS:
        raise Http404(_("Unknown kind of channel."))
    return _form_page(request, kind, None, None)


@login_required
@require_http_methods(["GET", "POST"])
def channel_edit(request: HttpRequest, inbox_id: int) -> HttpResponse:
    workspace, _user = _admin(request)
    inbox = _inbox(workspace, inbox_id)
    kind = selectors.kind_of(inbox)
    if kind not in FORMS:
        raise Http404(_("This channel has no settings here."))
    return _form_page(request, kind, inbox, _connector(inbox, kind))


@login_required
@require_POST
def channel_test(request: HttpRequest, inbox_id: int) -> HttpResponse:
    """Run the channel's test (`what`: smtp or imap for a mailbox) and record the outcome."""
    workspace, _user = _admin(request)
    inbox = _inbox(workspace, inbox_id)
    kind = selectors.kind_of(inbox)
    what = request.POST.get("what", "")
    status = 200
    if kind == selectors.EMAIL:
        mailbox = Mailbox.objects.get(inbox=inbox)
        if what == "imap":
            result = checks.imap_login_test(mailbox)
        else:
            form = SendTestForm(request.POST)
            if not form.is_valid() or not form.cleaned_data.get("to"):
                error = form.errors.get("to") if form.errors else None
                message = str(error[0]) if error else _("Type the address to send the test to.")
                return _test_page(request, inbox, ok=False, detail=message, status=400)
            result = checks.smtp_send_test(mailbox, form.cleaned_data["to"])
    elif kind == selectors.TWILIO:
        result = checks.twilio_test(TwilioAccount.objects.get(inbox=inbox))
    elif kind == selectors.META:
        result = checks.meta_test(MetaAccount.objects.get(inbox=inbox))
    else:
        raise Http404(_("This channel has no test."))
    with transaction.atomic():
        services.check_record(inbox=inbox, ok=result.ok, detail=result.detail)
    if not result.ok:
        status = 502
    return _test_page(request, inbox, ok=result.ok, detail=result.detail, status=status)


def _test_page(
    request: HttpRequest, inbox: Inbox, *, ok: bool, detail: str, status: int
) -> HttpResponse:
    context = {"section": "channels", "inbox": inbox, "ok": ok, "detail": detail}
    return render_in_workspace(request, "channel_settings/test_result.html", context, status=status)


__all__ = ["channel_edit", "channel_list", "channel_new", "channel_test", "forms"]


@login_required
@require_http_methods(["GET", "POST"])
def channel_auto_reply(request: HttpRequest, inbox_id: int) -> HttpResponse:
    """An inbox's business hours and automatic replies (any channel)."""
    workspace, user = _admin(request)
    inbox = _inbox(workspace, inbox_id)
    choices = [
        (hours.pk, hours.name)
        for hours in BusinessHours.objects.filter(workspace=workspace).order_by("name")
    ]
    current = AutoReplySettings.objects.filter(inbox=inbox).first()
    status = 200
    if request.method == "POST":
        form = AutoReplyForm(request.POST, hours_choices=choices)
        if form.is_valid():
            data = form.cleaned_data
            languages = [code for code, _name in LANGUAGES]
            with transaction.atomic():
                services.auto_reply_configure(
                    inbox=inbox,
                    actor=Actor.for_user(user),
                    business_hours_id=data["business_hours"],
                    away_texts={code: data[f"away_{code}"] for code in languages},
                    acknowledge=data["acknowledge"],
                    acknowledgement_texts={code: data[f"ack_{code}"] for code in languages},
                    suggest_articles=data["suggest_articles"],
                )
            return redirect("channel_settings:list")
        status = 400
    else:
        initial: dict[str, Any] = {}
        if current is not None:
            initial = {
                "business_hours": current.business_hours_id,
                "acknowledge": current.acknowledge,
                "suggest_articles": current.suggest_articles,
            }
            for code, _name in LANGUAGES:
                initial[f"away_{code}"] = (current.away_texts or {}).get(code, "")
                initial[f"ack_{code}"] = (current.acknowledgement_texts or {}).get(code, "")
        form = AutoReplyForm(initial=initial, hours_choices=choices)
    context = {"section": "channels", "inbox": inbox, "form": form}
    return render_in_workspace(request, "channel_settings/auto_reply.html", context, status=status)
