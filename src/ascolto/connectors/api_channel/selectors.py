"""Reads of the API channel. Every read takes the workspace (or an inbox of it)."""

from __future__ import annotations

from ascolto.core.errors import NotFound
from ascolto.core.models import Workspace
from ascolto.inbox.models import Channel, Inbox, Message


def api_inbox_get(*, workspace: Workspace, inbox_id: int) -> Inbox:
    """The API-channel inbox with this id in the workspace; NotFound for any other inbox (of
    another channel, or of another workspace, which answers exactly like an unknown id)."""
    inbox = (
        Inbox.objects.select_related("workspace")
        .filter(workspace=workspace, pk=inbox_id, channel=Channel.API)
        .first()
    )
    if inbox is None:
        raise NotFound(f"No API channel inbox #{inbox_id} in this workspace.")
    return inbox


def message_by_provider_id(*, inbox: Inbox, provider_id: str) -> Message | None:
    """The message this inbox already stored under a provider id, if any."""
    return (
        Message.objects.filter(
            workspace_id=inbox.workspace_id, inbox=inbox, provider_id=provider_id
        )
        .only("pk", "conversation_id", "author_customer_id", "provider_id")
        .first()
    )


def reply_for_delivery(*, message_id: int) -> Message | None:
    """An agent's or the assistant's reply in an API inbox that still waits for delivery."""
    return (
        Message.objects.select_related(
            "inbox", "workspace", "conversation__customer", "author_user"
        )
        .prefetch_related("attachments", "conversation__customer__identities")
        .filter(
            pk=message_id,
            inbox__channel=Channel.API,
            kind__in=(Message.Kind.OUTBOUND, Message.Kind.BOT),
            delivery_status=Message.Delivery.QUEUED,
        )
        .first()
    )


def replied_to(*, message: Message) -> str | None:
    """The provider id of the customer's latest message before this reply: what the system
    threads the reply under on its side."""
    provider_id: str | None = (
        Message.objects.filter(
            workspace_id=message.workspace_id,
            conversation_id=message.conversation_id,
            kind=Message.Kind.INBOUND,
            provider_id__isnull=False,
            pk__lt=message.pk,
        )
        .order_by("-pk")
        .values_list("provider_id", flat=True)
        .first()
    )
    return provider_id
