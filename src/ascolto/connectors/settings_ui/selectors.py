"""Reads of the channel settings pages, scoped by workspace."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import gettext as _

from ascolto.connectors.email.models import Mailbox
from ascolto.connectors.meta.models import MetaAccount
from ascolto.connectors.settings_ui.models import ChannelCheck
from ascolto.connectors.twilio.models import TwilioAccount
from ascolto.core.models import Workspace
from ascolto.inbox.models import Channel, Inbox

EMAIL, TWILIO, META, API = "email", "twilio", "meta", "api"
KINDS = (EMAIL, TWILIO, META, API)


@dataclass(frozen=True)
class ChannelRow:
    inbox: Inbox
    kind: str  # one of KINDS, or "" for channels set up elsewhere (web chat, voice)
    status: str  # "ok", "failing", "untested", "disabled"
    status_label: str
    last_error: str
    last_error_at: dt.datetime | None
    checked_at: dt.datetime | None


def kind_of(inbox: Inbox) -> str:
    """Which settings form an inbox has, from the connector row attached to it."""
    if inbox.channel == Channel.API:
        return API
    for kind, model in ((EMAIL, Mailbox), (TWILIO, TwilioAccount), (META, MetaAccount)):
        if model.objects.filter(inbox=inbox).exists():
            return kind
    return ""


def channel_rows(*, workspace: Workspace) -> list[ChannelRow]:
    inboxes = list(Inbox.objects.filter(workspace=workspace).order_by("name", "pk"))
    ids = [inbox.pk for inbox in inboxes]
    mailboxes = {
        m.inbox_id: m for m in Mailbox.objects.filter(workspace=workspace, inbox_id__in=ids)
    }
    twilio = set(
        TwilioAccount.objects.filter(workspace=workspace, inbox_id__in=ids).values_list(
            "inbox_id", flat=True
        )
    )
    meta = set(
        MetaAccount.objects.filter(workspace=workspace, inbox_id__in=ids).values_list(
            "inbox_id", flat=True
        )
    )
    checks = {c.inbox_id: c for c in ChannelCheck.objects.filter(workspace=workspace)}
    rows = []
    for inbox in inboxes:
        if inbox.channel == Channel.API:
            kind = API
        elif inbox.pk in mailboxes:
            kind = EMAIL
        elif inbox.pk in twilio:
            kind = TWILIO
        elif inbox.pk in meta:
            kind = META
        else:
            kind = ""
        rows.append(_row(inbox, kind, checks.get(inbox.pk), mailboxes.get(inbox.pk)))
    return rows


def _row(
    inbox: Inbox, kind: str, check: ChannelCheck | None, mailbox: Mailbox | None
) -> ChannelRow:
    error, error_at = "", None
    if check is not None and check.last_error:
        error, error_at = check.last_error, check.last_error_at
    # IMAP polling records its own errors on the mailbox; the newer of the two is shown.
    polled_error = mailbox.last_error if mailbox is not None else ""
    polled_at = mailbox.last_error_at if mailbox is not None else None
    if polled_error and (error_at is None or (polled_at and polled_at > error_at)):
        error, error_at = polled_error, polled_at
    if not inbox.is_active:
        status, label = "disabled", _("Disabled")
    elif check is None or check.checked_at is None:
        status, label = "untested", _("Not tested yet")
    elif check.ok and not (
        mailbox and mailbox.last_error and error_at and error_at > check.checked_at
    ):
        status, label = "ok", _("Working")
    else:
        status, label = "failing", _("Failing")
    return ChannelRow(
        inbox=inbox,
        kind=kind,
        status=status,
        status_label=label,
        last_error=error,
        last_error_at=error_at,
        checked_at=check.checked_at if check else None,
    )


def inbox_get(*, workspace: Workspace, inbox_id: int) -> Inbox | None:
    return Inbox.objects.filter(workspace=workspace, pk=inbox_id).first()
