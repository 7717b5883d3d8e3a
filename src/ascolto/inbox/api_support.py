"""Reads and conversions the inbox API needs beyond inbox.selectors.

Every read takes the workspace (or a conversation of it) and filters by it; an id of another
workspace is NotFound exactly like an unknown one.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import prefetch_related_objects

from ascolto.accounts.models import Team, User
from ascolto.core.errors import NotFound
from ascolto.core.models import Workspace
from ascolto.inbox import selectors
from ascolto.inbox.api_schemas import AttachmentIn
from ascolto.inbox.models import Conversation, ConversationEvent, Message
from ascolto.inbox.services import IncomingAttachment


def team_ref(*, workspace: Workspace, team_id: int, field: str = "team_id") -> Team:
    """A team named in a request body; NotFound naming the field otherwise."""
    team = Team.objects.filter(workspace=workspace, pk=team_id).first()
    if team is None:
        raise NotFound(
            f"No team #{team_id} in this workspace.", field_errors={field: ["No such team."]}
        )
    return team


def member_ref(*, workspace: Workspace, user_id: int, field: str) -> User:
    """A member of the workspace named in a request body; NotFound naming the field otherwise
    (a user who exists but is not a member answers exactly like one who does not exist)."""
    user = User.objects.filter(pk=user_id, memberships__workspace=workspace, is_active=True).first()
    if user is None:
        raise NotFound(
            f"No member #{user_id} in this workspace.", field_errors={field: ["No such member."]}
        )
    return user


def with_tags(conversations: Sequence[Conversation]) -> list[Conversation]:
    """The same conversations with their tags fetched in one query."""
    items = list(conversations)
    prefetch_related_objects(items, "tags")
    return items


def conversation_detail(*, workspace: Workspace, conversation_id: int) -> Conversation:
    """A conversation with everything its detail shows (customer identities, tags)."""
    conversation = selectors.conversation_get(workspace=workspace, conversation_id=conversation_id)
    prefetch_related_objects([conversation], "tags", "customer__identities")
    return conversation


def with_message_details(messages: Sequence[Message]) -> list[Message]:
    """The same messages with authors, attachments and mentions at a fixed number of queries
    (already-prefetched relations are not fetched again)."""
    items = list(messages)
    prefetch_related_objects(items, "attachments", "mentions")
    return items


def message_get(*, workspace: Workspace, message_id: int) -> Message:
    message = (
        Message.objects.select_related("author_user")
        .filter(workspace=workspace, pk=message_id)
        .first()
    )
    if message is None:
        raise NotFound(f"No message #{message_id} in this workspace.")
    return with_message_details([message])[0]


def conversation_events(*, conversation: Conversation, limit: int = 200) -> list[ConversationEvent]:
    """Status changes, assignments and transfers (who, when, why), oldest first."""
    return list(
        ConversationEvent.objects.select_related("actor")
        .filter(workspace_id=conversation.workspace_id, conversation=conversation)
        .order_by("created_at", "pk")[:limit]
    )


def incoming_attachments(items: Sequence[AttachmentIn]) -> list[IncomingAttachment]:
    return [
        IncomingAttachment(
            filename=item.filename, content_type=item.content_type, content=item.content_base64
        )
        for item in items
    ]
