"""REST operations of the API channel, under /api/v1/channels/api/.

Systems send messages with an API token (`Authorization: Bearer asc_...`) of a member who may
write; admins set inboxes and webhooks up (token or signed-in session). Writes run in one
transaction; an inbox id of another workspace, or of another channel, is 404.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from ninja import Router, Status

from ascolto.accounts.models import Team
from ascolto.connectors.api_channel import selectors, services
from ascolto.connectors.api_channel.config import webhook_settings
from ascolto.connectors.api_channel.schemas import (
    ApiInboxIn,
    ApiInboxOut,
    AttachmentIn,
    BulkIngestIn,
    BulkIngestOut,
    DeliveryIn,
    DeliveryOut,
    IngestIn,
    IngestOut,
    WebhookIn,
    WebhookOut,
)
from ascolto.core.api import ApiTokenAuth, Id, api_auth, require, validate_items
from ascolto.core.errors import DomainError, NotFound
from ascolto.inbox.models import Inbox
from ascolto.inbox.services import IncomingAttachment

router = Router(auth=api_auth)
token_auth = [ApiTokenAuth()]
TAGS = ["API channel"]


def _item(payload: IngestIn) -> services.IngestItem:
    return services.IngestItem(
        provider_id=payload.provider_id,
        identity_kind=payload.customer.kind,
        identity_value=payload.customer.value,
        name=payload.customer.name,
        text=payload.text,
        html=payload.html,
        subject=payload.subject,
        occurred_at=payload.occurred_at,
        attachments=_attachments(payload.attachments),
        metadata=payload.metadata,
    )


def _attachments(items: list[AttachmentIn]) -> list[IncomingAttachment]:
    return [
        IncomingAttachment(
            filename=a.filename, content_type=a.content_type, content=a.content_base64
        )
        for a in items
    ]


def _ingest_out(result: services.IngestResult) -> dict[str, Any]:
    return {
        "message_id": result.message_id,
        "conversation_id": result.conversation_id,
        "customer_id": result.customer_id,
        "duplicate": not result.created,
        "conversation_created": result.conversation_created,
        "refused_attachments": result.refused_attachments,
    }


def _inbox_out(inbox: Inbox, secret: str | None) -> dict[str, Any]:
    return {
        "inbox_id": inbox.pk,
        "name": inbox.name,
        "channel": inbox.channel,
        "team_id": inbox.team_id,
        "routing": inbox.routing,
        "reopen_window_hours": inbox.reopen_window_hours,
        "is_active": inbox.is_active,
        "created_at": inbox.created_at,
        "webhook_url": webhook_settings(inbox.config).url,
        "webhook_secret": secret,
    }


# --- Inbound --------------------------------------------------------------------------------


@router.post(
    "/channels/api/{int:inbox_id}/messages",
    response={200: IngestOut, 201: IngestOut},
    auth=token_auth,
    tags=TAGS,
)
def ingest_message(request: HttpRequest, inbox_id: Id, payload: IngestIn) -> Status[Any]:
    """A customer's message from your system. 201 when stored; 200 with `duplicate: true`
    and the same ids when this `provider_id` was stored before (retry freely)."""
    ctx = require(request, "write")
    with transaction.atomic():
        inbox = selectors.api_inbox_get(workspace=ctx.workspace, inbox_id=inbox_id)
        result = services.message_ingest(inbox=inbox, item=_item(payload), actor=ctx.actor)
    return Status(201 if result.created else 200, _ingest_out(result))


@router.post(
    "/channels/api/{int:inbox_id}/messages/bulk",
    response=BulkIngestOut,
    auth=token_auth,
    tags=TAGS,
)
def ingest_messages_bulk(request: HttpRequest, inbox_id: Id, payload: BulkIngestIn) -> Any:
    """Up to 500 messages at once. Each item stands alone: a bad one is reported by index and
    the others are stored; duplicates (also within the batch) are stored once.

    Each item is committed on its own, so a batch never holds the locks of hundreds of
    conversations at once (routing and SLA jobs need them). A request that fails midway may
    have stored some items: send the batch again, and those answer `duplicate`."""
    ctx = require(request, "write")
    valid, invalid = validate_items(payload.items, IngestIn)
    results: dict[int, dict[str, Any]] = {
        error.index: {
            "index": error.index,
            "status": "error",
            "message_id": None,
            "conversation_id": None,
            "detail": error.detail,
            "errors": error.errors,
        }
        for error in invalid
    }
    inbox = selectors.api_inbox_get(workspace=ctx.workspace, inbox_id=inbox_id)
    for index, item in valid:
        try:
            with transaction.atomic():
                result = services.message_ingest(inbox=inbox, item=_item(item), actor=ctx.actor)
        except DomainError as exc:
            results[index] = {
                "index": index,
                "status": "error",
                "message_id": None,
                "conversation_id": None,
                "detail": exc.message,
                "errors": exc.field_errors,
            }
            continue
        results[index] = {
            "index": index,
            "status": "created" if result.created else "duplicate",
            "message_id": result.message_id,
            "conversation_id": result.conversation_id,
            "detail": "",
            "errors": {},
        }
    rows = [results[i] for i in sorted(results)]
    return {
        "created": sum(r["status"] == "created" for r in rows),
        "duplicates": sum(r["status"] == "duplicate" for r in rows),
        "errors": sum(r["status"] == "error" for r in rows),
        "results": rows,
    }


@router.post(
    "/channels/api/{int:inbox_id}/delivery", response=DeliveryOut, auth=token_auth, tags=TAGS
)
def report_delivery(request: HttpRequest, inbox_id: Id, payload: DeliveryIn) -> Any:
    """What became of a reply: delivered, read or failed (with `error`). States only move
    forward; a late `delivered` after `read` changes nothing."""
    ctx = require(request, "write")
    with transaction.atomic():
        inbox = selectors.api_inbox_get(workspace=ctx.workspace, inbox_id=inbox_id)
        message = services.delivery_update(
            inbox=inbox, provider_id=payload.provider_id, status=payload.status, error=payload.error
        )
    return {
        "message_id": message.pk,
        "conversation_id": message.conversation_id,
        "delivery_status": message.delivery_status,
        "delivery_error": message.delivery_error,
    }


# --- Set-up ---------------------------------------------------------------------------------


@router.post("/channels/api/inboxes", response={201: ApiInboxOut}, tags=TAGS)
def create_api_inbox(request: HttpRequest, payload: ApiInboxIn) -> Status[Any]:
    """An API channel inbox with its webhook (admins). The signing secret is in the response
    this once."""
    ctx = require(request, "admin")
    with transaction.atomic():
        team = None
        if payload.team_id is not None:
            team = Team.objects.filter(workspace=ctx.workspace, pk=payload.team_id).first()
            if team is None:
                raise NotFound(
                    f"No team #{payload.team_id} in this workspace.",
                    field_errors={"team_id": ["No such team."]},
                )
        inbox, secret = services.api_inbox_create(
            workspace=ctx.workspace,
            name=payload.name,
            actor=ctx.actor,
            webhook_url=payload.webhook_url,
            team=team,
            routing=payload.routing,
            reopen_window_hours=payload.reopen_window_hours,
        )
    return Status(201, _inbox_out(inbox, secret))


@router.get("/channels/api/{int:inbox_id}/webhook", response=WebhookOut, tags=TAGS)
def get_webhook(request: HttpRequest, inbox_id: Id) -> Any:
    ctx = require(request, "admin")
    inbox = selectors.api_inbox_get(workspace=ctx.workspace, inbox_id=inbox_id)
    return {
        "inbox_id": inbox.pk,
        "webhook_url": webhook_settings(inbox.config).url,
        "webhook_secret": None,
    }


@router.put("/channels/api/{int:inbox_id}/webhook", response=WebhookOut, tags=TAGS)
def configure_webhook(request: HttpRequest, inbox_id: Id, payload: WebhookIn) -> Any:
    """Change the webhook URL and/or rotate the signing secret (shown in the response once)."""
    ctx = require(request, "admin")
    with transaction.atomic():
        inbox = selectors.api_inbox_get(workspace=ctx.workspace, inbox_id=inbox_id)
        secret = services.webhook_configure(
            inbox=inbox,
            actor=ctx.actor,
            webhook_url=payload.webhook_url,
            rotate_secret=payload.rotate_secret,
        )
    return {
        "inbox_id": inbox.pk,
        "webhook_url": webhook_settings(inbox.config).url,
        "webhook_secret": secret,
    }
