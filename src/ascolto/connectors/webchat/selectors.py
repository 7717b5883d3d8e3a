"""Web chat reads: the inbox behind a widget key, a visitor's customer and the messages a
visitor may see, whether an agent is there, and when the team is back.

A visitor sees the messages of their own conversations in this widget's inbox and nothing
else: never notes, never another inbox, never another customer. Everything is derived from the
visitor session (identity.py), never from an id the browser sends.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from ascolto.connectors.webchat.config import origin_allowed, widget_settings
from ascolto.connectors.webchat.identity import VisitorSession
from ascolto.customers.models import Customer, Identity
from ascolto.inbox.models import (
    AgentProfile,
    Attachment,
    BusinessHours,
    Channel,
    Conversation,
    Inbox,
    Message,
)

KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")
HISTORY = 50
SYNC_LIMIT = 200
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def inbox_for_key(key: str) -> Inbox | None:
    """The active webchat inbox whose widget has this public key."""
    if not isinstance(key, str) or not KEY.fullmatch(key):
        return None
    return (
        Inbox.objects.select_related("workspace")
        .filter(channel=Channel.WEBCHAT, is_active=True, config__widget__key=key)
        .first()
    )


def _current(customer: Customer | None) -> Customer | None:
    """Follow merges: a merged profile's visitor continues as the surviving customer."""
    for _ in range(5):
        if customer is None or customer.merged_into_id is None:
            return customer
        customer = Customer.objects.filter(pk=customer.merged_into_id).first()
    return customer


def visitor_customer(session: VisitorSession) -> Customer | None:
    """The customer of a visitor: by verified user id (the customer's external id), verified
    email, or the browser's visitor id. None until the visitor first writes."""
    workspace_id = session.workspace_id
    if session.user_id:
        customer = Customer.objects.filter(
            workspace_id=workspace_id, external_id=session.user_id
        ).first()
        return _current(customer)
    kind, value = (
        (Identity.Kind.EMAIL, session.email)
        if session.email
        else (Identity.Kind.WEB, session.visitor_id)
    )
    identity = (
        Identity.objects.select_related("customer")
        .filter(workspace_id=workspace_id, kind=kind, value=value)
        .first()
    )
    return _current(identity.customer) if identity is not None else None


def _visible(inbox: Inbox, customer: Customer) -> Q:
    return Q(
        workspace_id=inbox.workspace_id,
        conversation__inbox_id=inbox.pk,
        conversation__customer_id=customer.pk,
    ) & ~Q(kind=Message.Kind.NOTE)


def visitor_messages(
    *, inbox: Inbox, customer: Customer | None, after_id: int | None = None
) -> tuple[list[Message], bool]:
    """(messages, has_more). Without `after_id`: the latest HISTORY messages (has_more: older
    ones exist). With it: up to SYNC_LIMIT messages after that id (has_more: more to fetch)."""
    if customer is None:
        return [], False
    qs = (
        Message.objects.filter(_visible(inbox, customer))
        .select_related("author_user")
        .prefetch_related("attachments")
    )
    if after_id is None:
        rows = list(qs.order_by("-pk")[: HISTORY + 1])
        return list(reversed(rows[:HISTORY])), len(rows) > HISTORY
    rows = list(qs.filter(pk__gt=after_id).order_by("pk")[: SYNC_LIMIT + 1])
    return rows[:SYNC_LIMIT], len(rows) > SYNC_LIMIT


def current_conversation(*, inbox: Inbox, customer: Customer | None) -> Conversation | None:
    if customer is None:
        return None
    return (
        Conversation.objects.filter(
            workspace_id=inbox.workspace_id,
            inbox=inbox,
            customer=customer,
            merged_into__isnull=True,
        )
        .order_by("-last_message_at", "-pk")
        .first()
    )


def unread_replies(*, inbox: Inbox, customer: Customer, up_to: int) -> list[Message]:
    """Replies the visitor has now seen that are not yet marked read."""
    return list(
        Message.objects.filter(_visible(inbox, customer), pk__lte=up_to)
        .filter(
            kind__in=(Message.Kind.OUTBOUND, Message.Kind.BOT),
            provider_id__isnull=False,
            delivery_status__in=(Message.Delivery.SENT, Message.Delivery.DELIVERED),
        )
        .order_by("pk")[:100]
    )


def visitor_attachment(attachment_id: int) -> Attachment | None:
    """An attachment a signed widget URL points at (stored, on a message a visitor may see)."""
    return (
        Attachment.objects.filter(
            pk=attachment_id, refused_reason="", message__conversation__channel=Channel.WEBCHAT
        )
        .exclude(message__kind=Message.Kind.NOTE)
        .exclude(file="")
        .first()
    )


def agents_online(inbox: Inbox) -> bool:
    """Whether an active member who answers this inbox (its team, if it has one) is online."""
    qs = AgentProfile.objects.filter(
        workspace_id=inbox.workspace_id,
        availability=AgentProfile.Availability.ONLINE,
        user__is_active=True,
        user__memberships__workspace_id=inbox.workspace_id,
    )
    if inbox.team_id is not None:
        qs = qs.filter(user__teams=inbox.team_id)
    return qs.exists()


@dataclass(frozen=True)
class ReplyExpectation:
    """When a visitor nobody is answering can expect a reply: `open_now` (within business
    hours), else `next_open_at` (the next opening), else neither (no hours configured)."""

    open_now: bool
    next_open_at: dt.datetime | None

    def as_dict(self) -> dict[str, object]:
        return {
            "open_now": self.open_now,
            "next_open_at": self.next_open_at.isoformat() if self.next_open_at else None,
        }


def _parse_time(text: object) -> dt.time | None:
    try:
        return dt.time.fromisoformat(str(text))
    except ValueError:
        return None


def reply_expectation(inbox: Inbox, now: dt.datetime | None = None) -> ReplyExpectation:
    """From the business hours of the inbox's team, else the workspace's default hours."""
    hours = None
    if inbox.team_id is not None:
        hours = BusinessHours.objects.filter(
            workspace_id=inbox.workspace_id, team_id=inbox.team_id
        ).first()
    if hours is None:
        hours = BusinessHours.objects.filter(
            workspace_id=inbox.workspace_id, team__isnull=True
        ).first()
    if hours is None or not isinstance(hours.schedule, dict):
        return ReplyExpectation(open_now=False, next_open_at=None)
    try:
        zone = zoneinfo.ZoneInfo(hours.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    moment = (now or timezone.now()).astimezone(zone)
    holidays = {str(day) for day in hours.holidays} if isinstance(hours.holidays, list) else set()
    for offset in range(15):
        day = moment.date() + dt.timedelta(days=offset)
        if day.isoformat() in holidays:
            continue
        spans = hours.schedule.get(WEEKDAYS[day.weekday()]) or []
        for span in sorted(spans, key=str) if isinstance(spans, list) else []:
            if not isinstance(span, list | tuple) or len(span) != 2:
                continue
            start, end = _parse_time(span[0]), _parse_time(span[1])
            if start is None or end is None:
                continue
            opens = dt.datetime.combine(day, start, tzinfo=zone)
            closes = dt.datetime.combine(day, end, tzinfo=zone)
            if closes <= moment:
                continue
            if opens <= moment:
                return ReplyExpectation(open_now=True, next_open_at=None)
            return ReplyExpectation(open_now=False, next_open_at=opens.astimezone(dt.UTC))
    return ReplyExpectation(open_now=False, next_open_at=None)


def workspace_origin_allowed(*, workspace_id: int, origin: str, server_host: str = "") -> bool:
    """Whether a page at `origin` may call the workspace's public endpoints from the browser:
    an origin allowed by any of its web chat widgets (same rules as the widget), or our own."""
    allowed: list[str] = []
    for config in Inbox.objects.filter(
        workspace_id=workspace_id, channel=Channel.WEBCHAT
    ).values_list("config", flat=True):
        allowed.extend(widget_settings(config).allowed_origins)
    return origin_allowed(origin=origin, allowed=tuple(allowed), server_host=server_host)
