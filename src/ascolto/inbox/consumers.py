"""The console's presence socket: who else is viewing or typing in a conversation.

`ws/inbox/?workspace=<id>`, authenticated by the Django session (AuthMiddlewareStack in
config/asgi.py); anonymous users and users who are not members of the workspace are refused.

The browser sends:
- `{"type": "viewing", "conversation_id": id}` when it opens a conversation, and again every
  HEARTBEAT_SECONDS while it stays open;
- `{"type": "typing", "conversation_id": id}` while the agent writes in it (every few seconds);
- `{"type": "leave"}` when it closes the conversation; `{"type": "ping"}` (answered "pong").

It receives `{"type": "presence", "conversation_id": id, "agents": [{"user_id", "name",
"state"}]}` whenever who views or types in a conversation of the workspace changes, without its
own user, and `{"type": "error", "code": ...}` for a message it should not have sent.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from ascolto.accounts.models import Membership
from ascolto.inbox.models import Conversation
from ascolto.inbox.presence import (
    AgentPresence,
    presence_group,
    presence_leave,
    presence_touch,
    update_message,
)

MAX_ID = 2**63 - 1


@database_sync_to_async  # type: ignore[untyped-decorator]
def _is_member(user: Any, workspace_id: int) -> bool:
    return Membership.objects.filter(
        user=user, workspace_id=workspace_id, user__is_active=True
    ).exists()


@database_sync_to_async  # type: ignore[untyped-decorator]
def _in_workspace(workspace_id: int, conversation_id: int) -> bool:
    return Conversation.objects.filter(workspace_id=workspace_id, pk=conversation_id).exists()


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 0 < value <= MAX_ID:
        return value
    if isinstance(value, str) and value.isdigit() and 0 < int(value) <= MAX_ID:
        return int(value)
    return None


class InboxPresenceConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    workspace_id: int | None
    conversation_id: int | None
    user_id: int
    user_name: str
    allowed: set[int]

    async def connect(self) -> None:
        self.workspace_id = None
        self.conversation_id = None
        self.allowed = set()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close()
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        workspace_id = _int((query.get("workspace") or [""])[0])
        if workspace_id is None or not await _is_member(user, workspace_id):
            await self.close()
            return
        self.workspace_id = workspace_id
        self.user_id = user.pk
        self.user_name = user.get_full_name() or user.get_username()
        await self.channel_layer.group_add(presence_group(workspace_id), self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.workspace_id is None:
            return
        await self._leave()
        await self.channel_layer.group_discard(presence_group(self.workspace_id), self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "leave":
            await self._leave()
        elif kind in ("viewing", "typing"):
            conversation_id = _int(content.get("conversation_id"))
            if conversation_id is None or not await self._may_see(conversation_id):
                await self.send_json({"type": "error", "code": "unknown_conversation"})
                return
            await self._touch(conversation_id, typing=kind == "typing")
        else:
            await self.send_json({"type": "error", "code": "unknown_message"})

    async def _may_see(self, conversation_id: int) -> bool:
        """A conversation of the socket's workspace (another workspace's id is unknown)."""
        assert self.workspace_id is not None
        if conversation_id not in self.allowed:
            if not await _in_workspace(self.workspace_id, conversation_id):
                return False
            self.allowed.add(conversation_id)
        return True

    async def _touch(self, conversation_id: int, *, typing: bool) -> None:
        assert self.workspace_id is not None
        if self.conversation_id not in (None, conversation_id):
            await self._leave()
        self.conversation_id = conversation_id
        changed, agents = await presence_touch(
            workspace_id=self.workspace_id,
            conversation_id=conversation_id,
            connection=self.channel_name,
            user_id=self.user_id,
            name=self.user_name,
            typing=typing,
        )
        if changed:
            await self._announce(conversation_id, agents)

    async def _leave(self) -> None:
        if self.workspace_id is None or self.conversation_id is None:
            return
        conversation_id, self.conversation_id = self.conversation_id, None
        agents = await presence_leave(
            workspace_id=self.workspace_id,
            conversation_id=conversation_id,
            connection=self.channel_name,
        )
        await self._announce(conversation_id, agents)

    async def _announce(self, conversation_id: int, agents: list[AgentPresence]) -> None:
        assert self.workspace_id is not None
        await self.channel_layer.group_send(
            presence_group(self.workspace_id), update_message(conversation_id, agents)
        )

    async def presence_update(self, message: dict[str, Any]) -> None:
        others = [a for a in message["agents"] if a["user_id"] != self.user_id]
        await self.send_json(
            {"type": "presence", "conversation_id": message["conversation_id"], "agents": others}
        )
