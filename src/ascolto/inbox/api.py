"""Inbox REST operations: inboxes, the console's conversation lists, threads, replies, notes and
every state change agents make. One function per operation, each thin.

Parse (ninja schemas), authorize (`require`), call one service or selector, serialise. Writes
run in `transaction.atomic`, so a failure leaves nothing half-written. Every id in a path, a
query or a body is looked up in the caller's workspace: another workspace's ids are 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from django.db import transaction
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from ascolto.core.api import Cursor, Id, PageOut, SearchTerm, api_auth, page_out, require
from ascolto.core.errors import ValidationFailed
from ascolto.inbox import api_support, selectors, services
from ascolto.inbox.api_schemas import (
    PRIORITY_VALUES,
    AssignIn,
    ChannelChoice,
    ConversationDetailOut,
    ConversationOut,
    EventOut,
    HandlingIn,
    HandlingOut,
    InboxIn,
    InboxOut,
    Language,
    MessageOut,
    MessagesOut,
    NoteIn,
    PriorityIn,
    PriorityName,
    ReplyIn,
    StatusFilter,
    StatusIn,
    TagName,
    TagsIn,
    TagsOut,
    ViewChoice,
)

router = Router(auth=api_auth)

INBOXES, CONVERSATIONS, MESSAGES = "inboxes", "conversations", "messages"
ConversationLimit = Annotated[int, Field(ge=1, le=selectors.MAX_PAGE)]
MessageLimit = Annotated[int, Field(ge=1, le=200)]


# --- Inboxes --------------------------------------------------------------------------------


@router.get("/inboxes", response=list[InboxOut], tags=[INBOXES])
def list_inboxes(request: HttpRequest) -> Any:
    """The workspace's inboxes, by name."""
    ctx = require(request, "read")
    return list(selectors.inbox_list(workspace=ctx.workspace))


@router.post("/inboxes", response={201: InboxOut}, tags=[INBOXES])
def create_inbox(request: HttpRequest, payload: InboxIn) -> Status[Any]:
    """Create an inbox (admins). Channel connectors set their own settings up afterwards (the
    API channel: `PUT /channels/api/{inbox_id}/webhook`)."""
    ctx = require(request, "admin")
    with transaction.atomic():
        team = (
            api_support.team_ref(workspace=ctx.workspace, team_id=payload.team_id)
            if payload.team_id is not None
            else None
        )
        inbox = services.inbox_create(
            workspace_id=ctx.workspace.pk,
            name=payload.name,
            channel=payload.channel,
            actor=ctx.actor,
            team=team,
            routing=payload.routing,
            reopen_window_hours=payload.reopen_window_hours,
        )
    return Status(201, inbox)


@router.get("/inboxes/{int:inbox_id}", response=InboxOut, tags=[INBOXES])
def get_inbox(request: HttpRequest, inbox_id: Id) -> Any:
    ctx = require(request, "read")
    return selectors.inbox_get(workspace=ctx.workspace, inbox_id=inbox_id)


# --- Conversations --------------------------------------------------------------------------


class ConversationFilters(Schema):
    view: ViewChoice = Field(
        default="all",
        description="mine, unassigned, my_teams, all, sla_due (a target within the hour), "
        "high_value (gold and platinum customers) or mentions (notes mentioning you).",
    )
    status: StatusFilter = Field(
        default="open", description="A status, `active` (open, pending, snoozed) or `any`."
    )
    channel: ChannelChoice | None = None
    inbox_id: Id | None = None
    team_id: Id | None = None
    assignee_id: Id | None = None
    tag: TagName | None = None
    priority: PriorityName | None = None
    language: Language | None = None
    search: SearchTerm = Field(
        default="", description="Subject, messages, customer name and identities."
    )
    cursor: Cursor | None = None
    limit: ConversationLimit = 50


@router.get("/conversations", response=PageOut[ConversationOut], tags=[CONVERSATIONS])
def list_conversations(request: HttpRequest, filters: Query[ConversationFilters]) -> dict[str, Any]:
    """A console view, most recent activity first."""
    ctx = require(request, "read")
    page = selectors.conversation_list(
        workspace=ctx.workspace,
        user=ctx.user,
        filters=selectors.ConversationFilter(
            view=filters.view,
            status=None if filters.status == "any" else filters.status,
            channel=filters.channel,
            inbox_id=filters.inbox_id,
            team_id=filters.team_id,
            assignee_id=filters.assignee_id,
            tag=filters.tag,
            priority=None if filters.priority is None else PRIORITY_VALUES[filters.priority],
            language=filters.language,
            search=filters.search,
        ),
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return page_out(api_support.with_tags(page.items), page.next_cursor)


@router.get(
    "/conversations/{int:conversation_id}", response=ConversationDetailOut, tags=[CONVERSATIONS]
)
def get_conversation(request: HttpRequest, conversation_id: Id) -> Any:
    """A conversation with the customer's summary."""
    ctx = require(request, "read")
    return api_support.conversation_detail(workspace=ctx.workspace, conversation_id=conversation_id)


@router.get(
    "/conversations/{int:conversation_id}/events", response=list[EventOut], tags=[CONVERSATIONS]
)
def list_conversation_events(request: HttpRequest, conversation_id: Id) -> Any:
    """Status changes, assignments and transfers: who, when and why, oldest first."""
    ctx = require(request, "read")
    conversation = selectors.conversation_get(
        workspace=ctx.workspace, conversation_id=conversation_id
    )
    return api_support.conversation_events(conversation=conversation)


@router.post(
    "/conversations/{int:conversation_id}/status",
    response=ConversationDetailOut,
    tags=[CONVERSATIONS],
)
def set_conversation_status(request: HttpRequest, conversation_id: Id, payload: StatusIn) -> Any:
    """Resolve, close, set pending (waiting on the customer), snooze until a time, or reopen
    (`open`). Setting the status a conversation already has changes nothing."""
    ctx = require(request, "write")
    if payload.snoozed_until is not None and payload.status != "snoozed":
        raise ValidationFailed(
            "`snoozed_until` goes only with the status `snoozed`.",
            field_errors={"snoozed_until": ["Only with the status `snoozed`."]},
        )
    with transaction.atomic():
        conversation = selectors.conversation_get(
            workspace=ctx.workspace, conversation_id=conversation_id
        )
        services.conversation_set_status(
            conversation=conversation,
            status=payload.status,
            actor=ctx.actor,
            snoozed_until=payload.snoozed_until,
            reason=payload.reason,
        )
    return api_support.conversation_detail(workspace=ctx.workspace, conversation_id=conversation_id)


@router.post(
    "/conversations/{int:conversation_id}/assignment",
    response=ConversationDetailOut,
    tags=[CONVERSATIONS],
)
def assign_conversation(request: HttpRequest, conversation_id: Id, payload: AssignIn) -> Any:
    """Assign to an agent (and/or a team), transfer with a reason, or unassign."""
    ctx = require(request, "write")
    with transaction.atomic():
        conversation = selectors.conversation_get(
            workspace=ctx.workspace, conversation_id=conversation_id
        )
        assignee = (
            api_support.member_ref(
                workspace=ctx.workspace, user_id=payload.assignee_id, field="assignee_id"
            )
            if payload.assignee_id is not None
            else None
        )
        team = (
            api_support.team_ref(workspace=ctx.workspace, team_id=payload.team_id)
            if payload.team_id is not None
            else None
        )
        services.conversation_assign(
            conversation=conversation,
            actor=ctx.actor,
            assignee=assignee,
            team=team,
            reason=payload.reason,
        )
    return api_support.conversation_detail(workspace=ctx.workspace, conversation_id=conversation_id)


@router.post(
    "/conversations/{int:conversation_id}/priority",
    response=ConversationDetailOut,
    tags=[CONVERSATIONS],
)
def set_conversation_priority(
    request: HttpRequest, conversation_id: Id, payload: PriorityIn
) -> Any:
    ctx = require(request, "write")
    with transaction.atomic():
        conversation = selectors.conversation_get(
            workspace=ctx.workspace, conversation_id=conversation_id
        )
        services.conversation_set_priority(
            conversation=conversation,
            priority=PRIORITY_VALUES[payload.priority],
            actor=ctx.actor,
            reason=payload.reason,
        )
    return api_support.conversation_detail(workspace=ctx.workspace, conversation_id=conversation_id)


@router.put("/conversations/{int:conversation_id}/tags", response=TagsOut, tags=[CONVERSATIONS])
def set_conversation_tags(request: HttpRequest, conversation_id: Id, payload: TagsIn) -> Any:
    """Replace the conversation's tags (names are lower-cased; unknown ones are created)."""
    ctx = require(request, "write")
    with transaction.atomic():
        conversation = selectors.conversation_get(
            workspace=ctx.workspace, conversation_id=conversation_id
        )
        tags = services.conversation_set_tags(
            conversation=conversation, names=payload.tags, actor=ctx.actor
        )
    return {"tags": sorted(tag.name for tag in tags)}


@router.post(
    "/conversations/{int:conversation_id}/handling",
    response={200: HandlingOut, 201: HandlingOut},
    tags=[CONVERSATIONS],
)
def report_handling(request: HttpRequest, conversation_id: Id, payload: HandlingIn) -> Status[Any]:
    """Report a span of active handling by the calling agent (conversation in front of them or
    being composed). 201 when recorded; 200 with `recorded: false` for spans under a second or
    over four hours, which are discarded as noise."""
    ctx = require(request, "write")
    if payload.ended_at <= payload.started_at:
        raise ValidationFailed(
            "A span ends after it starts.",
            field_errors={"ended_at": ["Must be after `started_at`."]},
        )
    seconds = (payload.ended_at - payload.started_at).total_seconds()
    with transaction.atomic():
        conversation = selectors.conversation_get(
            workspace=ctx.workspace, conversation_id=conversation_id
        )
        interval = services.handling_record(
            conversation=conversation,
            agent=ctx.user,
            started_at=payload.started_at,
            ended_at=payload.ended_at,
        )
    if interval is None:
        return Status(200, {"recorded": False, "id": None, "seconds": seconds})
    return Status(201, {"recorded": True, "id": interval.pk, "seconds": seconds})


# --- Messages -------------------------------------------------------------------------------


class ThreadParams(Schema):
    after: Annotated[int, Field(ge=0, le=2**63 - 1)] | None = Field(
        default=None,
        description="Only messages with a higher id, in id order (resync after a dropped "
        "connection). Without it: the whole thread, oldest first.",
    )
    limit: MessageLimit = 200
    include_notes: bool = True


@router.get("/conversations/{int:conversation_id}/messages", response=MessagesOut, tags=[MESSAGES])
def list_messages(
    request: HttpRequest, conversation_id: Id, params: Query[ThreadParams]
) -> dict[str, Any]:
    """The thread of a conversation, or the messages after a known id."""
    ctx = require(request, "read")
    conversation = selectors.conversation_get(
        workspace=ctx.workspace, conversation_id=conversation_id
    )
    if params.after is None:
        items = selectors.thread(conversation=conversation, include_notes=params.include_notes)
        has_more = False
    else:
        items = selectors.messages_since(
            conversation=conversation,
            after_id=params.after,
            include_notes=params.include_notes,
            limit=params.limit + 1,
        )
        has_more = len(items) > params.limit
        items = items[: params.limit]
    return {
        "items": api_support.with_message_details(items),
        "last_id": max((m.pk for m in items), default=params.after),
        "has_more": has_more,
    }


@router.post(
    "/conversations/{int:conversation_id}/messages",
    response={201: MessageOut},
    tags=[MESSAGES],
)
def send_reply(request: HttpRequest, conversation_id: Id, payload: ReplyIn) -> Status[Any]:
    """Reply to the customer. The channel's connector delivers it after commit; its
    `delivery_status` moves from `queued` to sent, delivered, read or failed."""
    ctx = require(request, "write")
    with transaction.atomic():
        conversation = selectors.conversation_get(
            workspace=ctx.workspace, conversation_id=conversation_id
        )
        message = services.message_send(
            conversation=conversation,
            author=ctx.user,
            actor=ctx.actor,
            text=payload.text,
            html=payload.html,
            attachments=api_support.incoming_attachments(payload.attachments),
        )
    return Status(201, api_support.message_get(workspace=ctx.workspace, message_id=message.pk))


@router.post(
    "/conversations/{int:conversation_id}/notes", response={201: MessageOut}, tags=[MESSAGES]
)
def add_note(request: HttpRequest, conversation_id: Id, payload: NoteIn) -> Status[Any]:
    """An internal note, never sent to the customer; @username mentions notify members."""
    ctx = require(request, "write")
    with transaction.atomic():
        conversation = selectors.conversation_get(
            workspace=ctx.workspace, conversation_id=conversation_id
        )
        message = services.note_add(
            conversation=conversation, author=ctx.user, text=payload.text, actor=ctx.actor
        )
    return Status(201, api_support.message_get(workspace=ctx.workspace, message_id=message.pk))


@router.get("/messages/{int:message_id}", response=MessageOut, tags=[MESSAGES])
def get_message(request: HttpRequest, message_id: Id) -> Any:
    ctx = require(request, "read")
    return api_support.message_get(workspace=ctx.workspace, message_id=message_id)
