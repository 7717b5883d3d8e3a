"""REST operations of voice calls: POST /calls records a call a telephony system or an agent
reports, GET /calls/{id} reads one. Mounted with `api.add_router("", voice_router)`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.db import transaction
from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from ascolto.accounts.models import User
from ascolto.connectors.voice import selectors, services
from ascolto.connectors.voice.models import CallRecord
from ascolto.core.api import Id, Text, Timestamp, api_auth, require
from ascolto.core.errors import ValidationFailed
from ascolto.core.schemas import InSchema
from ascolto.inbox import selectors as inbox_selectors

router = Router(auth=api_auth)
TAGS = ["calls"]


class CallIn(InSchema):
    conversation_id: Id | None = Field(
        default=None, description="The conversation the call belongs to; or give `inbox_id`."
    )
    inbox_id: Id | None = Field(
        default=None,
        description=(
            "A phone inbox: the customer is found by number (the caller of an inbound call, the "
            "callee of an outbound one, created if unknown) and the call joins their active "
            "conversation there or opens one."
        ),
    )
    direction: Literal["inbound", "outbound"]
    from_number: Annotated[Text, Field(min_length=1, max_length=40)]
    to_number: Annotated[Text, Field(min_length=1, max_length=40)]
    started_at: Timestamp
    duration_seconds: Annotated[int, Field(ge=0, le=services.MAX_DURATION)] = 0
    outcome: Literal["answered", "missed", "voicemail", "failed"]
    recording_url: Annotated[Text, Field(max_length=2000)] = ""
    agent_id: Id | None = None
    notes: Annotated[Text, Field(max_length=10_000)] = ""
    external_id: Annotated[Text, Field(min_length=1, max_length=100)] | None = Field(
        default=None, description="The telephony system's call id; a repeat is not stored twice."
    )


class CallOut(Schema):
    id: int
    conversation_id: int
    customer_id: int
    direction: str
    from_number: str
    to_number: str
    started_at: Any
    duration_seconds: int
    outcome: str
    recording_url: str
    agent_id: int | None
    notes: str
    external_id: str | None
    message_id: int | None
    created: bool = Field(default=False, description="False when `external_id` was seen before.")


def _out(call: CallRecord, *, created: bool = False) -> dict[str, Any]:
    return {
        "id": call.pk,
        "conversation_id": call.conversation_id,
        "customer_id": call.conversation.customer_id,
        "direction": call.direction,
        "from_number": call.from_number,
        "to_number": call.to_number,
        "started_at": call.started_at,
        "duration_seconds": call.duration_seconds,
        "outcome": call.outcome,
        "recording_url": call.recording_url,
        "agent_id": call.agent_id,
        "notes": call.notes,
        "external_id": call.external_id,
        "message_id": call.message_id,
        "created": created,
    }


@router.post("/calls", response={200: CallOut, 201: CallOut}, tags=TAGS)
def create_call(request: HttpRequest, payload: CallIn) -> Status[Any]:
    """Record a call in a conversation. 201 when stored; 200 with the stored call when its
    `external_id` was reported before."""
    ctx = require(request, "write")
    if (payload.conversation_id is None) == (payload.inbox_id is None):
        raise ValidationFailed(
            "Give either conversation_id or inbox_id.",
            field_errors={"conversation_id": ["Either this or inbox_id."]},
        )
    with transaction.atomic():
        if payload.conversation_id is not None:
            conversation = inbox_selectors.conversation_get(
                workspace=ctx.workspace, conversation_id=payload.conversation_id
            )
        else:
            assert payload.inbox_id is not None
            conversation = services.call_conversation(
                inbox=inbox_selectors.inbox_get(workspace=ctx.workspace, inbox_id=payload.inbox_id),
                direction=payload.direction,
                from_number=payload.from_number,
                to_number=payload.to_number,
                started_at=payload.started_at,
                actor=ctx.actor,
            )
        agent = None
        if payload.agent_id is not None:
            agent = User.objects.filter(
                pk=payload.agent_id, memberships__workspace=ctx.workspace
            ).first()
            if agent is None:
                raise ValidationFailed(
                    "The agent is not a member of this workspace.",
                    field_errors={"agent_id": ["Not a member of this workspace."]},
                )
        call, created = services.call_record_create(
            conversation=conversation,
            data=services.CallInput(
                direction=payload.direction,
                from_number=payload.from_number,
                to_number=payload.to_number,
                started_at=payload.started_at,
                duration_seconds=payload.duration_seconds,
                outcome=payload.outcome,
                recording_url=payload.recording_url,
                notes=payload.notes,
                agent=agent,
                external_id=payload.external_id,
            ),
            actor=ctx.actor,
        )
    return Status(201 if created else 200, _out(call, created=created))


@router.get("/calls/{int:call_id}", response=CallOut, tags=TAGS)
def get_call(request: HttpRequest, call_id: Id) -> Any:
    """One call of the workspace; another workspace's id is 404."""
    ctx = require(request, "read")
    return _out(selectors.call_get(workspace=ctx.workspace, call_id=call_id))
