"""Automatic replies of an inbox, for every connector: run on `inbox.message.received`.

Contract: at most one answer of each kind (away, acknowledgement) per conversation, enforced by
AutoReplySent's unique constraint inside the handler's transaction, so a redelivered event or
a concurrent dispatcher never answers twice. Mail flagged automatic by the email connector
(auto-replies, bulk, lists) is never answered. The answer is a bot message sent through the
inbox's normal write path, so each connector delivers it like any reply.

On an email inbox with `suggest_articles`, the acknowledgement also lists the help center's best
matching articles in the customer's language (the assistant's `email_acknowledgement`, which
records the deflection offer), built only once the AutoReplySent row is won, so one offer per
conversation.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from django.db import IntegrityError, transaction

from ascolto.accounts.models import User
from ascolto.assistant import selectors as assistant_selectors
from ascolto.assistant import services as assistant_services
from ascolto.connectors.settings_ui.models import AutoReplySent, AutoReplySettings
from ascolto.core.actors import Actor
from ascolto.inbox import business_hours, inbound
from ascolto.inbox import services as inbox_services
from ascolto.inbox.models import Channel, Message

ACTOR = Actor.system("auto-reply")
DEFAULT_LANGUAGE = "en"


def is_open(settings: AutoReplySettings, moment: dt.datetime) -> bool:
    """Whether `moment` lies within the inbox's business hours (no calendar: always)."""
    calendar = business_hours.calendar_for(settings.business_hours)
    if calendar is None:
        return True
    start, _end = next(calendar.intervals_from(moment))
    return start <= moment


def text_for(texts: object, language: str) -> str:
    """The text in `language` (or its base: "it" for "it-CH"), else English, else any."""
    if not isinstance(texts, dict):
        return ""
    clean = {str(k).lower(): str(v).strip() for k, v in texts.items() if str(v).strip()}
    language = (language or "").lower()
    for key in (language, language.split("-")[0], DEFAULT_LANGUAGE):
        if key and key in clean:
            return clean[key]
    return next(iter(clean.values()), "")


def _automatic(message: Message) -> bool:
    email = (message.metadata or {}).get("email") if isinstance(message.metadata, dict) else None
    return bool(isinstance(email, dict) and email.get("automatic"))


def auto_reply_for(*, message: Message, conversation_created: bool) -> Message | None:
    """Answer an inbound message if its inbox says so (see the module's contract). Returns the
    answer sent, or None."""
    if (
        message.kind != Message.Kind.INBOUND
        or _automatic(message)
        or inbound.is_not_a_request(message)
    ):
        return None
    settings = (
        AutoReplySettings.objects.select_related("business_hours")
        .filter(workspace_id=message.workspace_id, inbox_id=message.inbox_id)
        .first()
    )
    if settings is None:
        return None
    conversation = message.conversation
    suggest = (
        settings.suggest_articles
        and conversation_created
        and message.inbox.channel == Channel.EMAIL
    )
    language = conversation.language or getattr(conversation.customer, "locale", "") or ""
    if suggest and not language:
        language = assistant_selectors.message_language(message=message)
    if not is_open(settings, message.created_at):
        kind, text = AutoReplySent.Kind.AWAY, text_for(settings.away_texts, language)
        suggest = False
    elif settings.acknowledge and conversation_created:
        kind = AutoReplySent.Kind.ACKNOWLEDGEMENT
        text = text_for(settings.acknowledgement_texts, language)
    else:
        return None
    if not text and not suggest:
        return None
    try:
        with transaction.atomic():
            sent = AutoReplySent.objects.create(
                workspace_id=message.workspace_id, conversation=conversation, kind=kind
            )
    except IntegrityError:
        return None  # answered already
    if suggest:
        text = assistant_services.email_acknowledgement(
            workspace=conversation.workspace,
            customer=conversation.customer,
            subject=conversation.subject,
            text=message.text,
            language=language,
            received=text,
            conversation=conversation,
        )
    reply = inbox_services.message_send(
        conversation=conversation,
        author=cast(User, None),  # a bot message has no author
        actor=ACTOR,
        text=text,
        kind=Message.Kind.BOT,
    )
    sent.message = reply
    sent.save(update_fields=["message", "updated_at"])
    return reply
