"""REST operations for WhatsApp templates and the 24-hour window (the Graph API side is in
tasks.py). Mounted with `api.add_router("", meta_router)`:

- GET  /whatsapp/templates — the workspace's approved templates;
- GET  /conversations/{id}/whatsapp-window — whether a free-form reply may be sent, until when;
- POST /conversations/{id}/whatsapp-template — send a template (inside or outside the window).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.db import transaction
from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from ascolto.connectors.meta import selectors, services
from ascolto.connectors.meta.models import MetaAccount, WhatsAppTemplate
from ascolto.core.api import Id, Text, api_auth, require
from ascolto.core.errors import NotFound
from ascolto.core.schemas import InSchema
from ascolto.inbox import selectors as inbox_selectors
from ascolto.inbox.models import Conversation

router = Router(auth=api_auth)
TAGS = ["WhatsApp"]


class TemplateOut(Schema):
    id: int
    account_id: int
    inbox_id: int
    name: str
    language: str
    body: str
    variables: list[str]


class WindowOut(Schema):
    open: bool = Field(description="Whether a free-form reply may be sent now.")
    last_customer_message_at: dt.datetime | None
    closes_at: dt.datetime | None = Field(description="When the window closes (or closed).")


class TemplateSendIn(InSchema):
    template_id: Id
    values: dict[
        Annotated[Text, Field(max_length=100)], Annotated[Text, Field(max_length=1024)]
    ] = Field(default_factory=dict, description="A value for each of the template's variables.")


class SentOut(Schema):
    message_id: int
    conversation_id: int
    text: str
    delivery_status: str


def _whatsapp_conversation(request: HttpRequest, conversation_id: int) -> Conversation:
    ctx = require(request, "read")
    conversation = inbox_selectors.conversation_get(
        workspace=ctx.workspace, conversation_id=conversation_id
    )
    if not MetaAccount.objects.filter(
        inbox_id=conversation.inbox_id, platform=MetaAccount.Platform.WHATSAPP
    ).exists():
        raise NotFound(f"Conversation #{conversation_id} is not in a WhatsApp Cloud inbox.")
    return conversation


def _template_out(template: WhatsAppTemplate) -> dict[str, Any]:
    return {
        "id": template.pk,
        "account_id": template.account_id,
        "inbox_id": template.account.inbox_id,
        "name": template.name,
        "language": template.language,
        "body": template.body,
        "variables": list(template.variables),
    }


@router.get("/whatsapp/templates", response=list[TemplateOut], tags=TAGS)
def list_whatsapp_templates(request: HttpRequest) -> Any:
    """The workspace's approved WhatsApp templates, by name and language."""
    ctx = require(request, "read")
    return [_template_out(t) for t in selectors.templates_of(workspace=ctx.workspace)]


@router.get("/conversations/{int:conversation_id}/whatsapp-window", response=WindowOut, tags=TAGS)
def whatsapp_window(request: HttpRequest, conversation_id: Id) -> Any:
    """WhatsApp's 24-hour customer-care window of a conversation: open for free-form replies
    until 24 hours after the customer's last message; afterwards only templates."""
    conversation = _whatsapp_conversation(request, conversation_id)
    latest = services.last_customer_message_at(conversation=conversation)
    return {
        "open": services.whatsapp_window_open(conversation=conversation),
        "last_customer_message_at": latest,
        "closes_at": latest + services.WHATSAPP_WINDOW if latest else None,
    }


@router.post(
    "/conversations/{int:conversation_id}/whatsapp-template",
    response={201: SentOut},
    tags=TAGS,
)
def send_whatsapp_template(
    request: HttpRequest, conversation_id: Id, payload: TemplateSendIn
) -> Status[Any]:
    """Send an approved template as the calling agent's reply; it goes out after commit, like
    every reply, and its delivery state follows."""
    ctx = require(request, "write")
    with transaction.atomic():
        conversation = _whatsapp_conversation(request, conversation_id)
        template = selectors.template_get(workspace=ctx.workspace, template_id=payload.template_id)
        message = services.template_send(
            conversation=conversation,
            template=template,
            values=payload.values,
            author=ctx.user,
            actor=ctx.actor,
        )
    return Status(
        201,
        {
            "message_id": message.pk,
            "conversation_id": conversation.pk,
            "text": message.text,
            "delivery_status": message.delivery_status,
        },
    )
