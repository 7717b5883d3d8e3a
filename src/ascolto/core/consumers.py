"""The agent UI's realtime feed: one websocket per browser tab, joined to its workspace groups.

The socket is authenticated by the Django session cookie (AuthMiddlewareStack in config/asgi.py);
an anonymous handshake is refused. Each message sent to the browser is
`{"event": ..., "workspace_id": ..., "payload": {...}}` (see core/realtime.py). The browser
only listens: it answers `{"type": "ping"}` with `{"type": "pong"}` so a client can tell a live
socket from a dead one, and ignores everything else.
"""

from __future__ import annotations

from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from ascolto.core.models import Workspace
from ascolto.core.realtime import workspace_group


@database_sync_to_async  # type: ignore[untyped-decorator]
def _workspace_ids_for(user: Any) -> list[int]:
    return list(Workspace.objects.filter(memberships__user=user).values_list("pk", flat=True))


class DirectDispatch:
    """Dispatch each message straight to its handler.

    Channels' own dispatch first runs `close_old_connections` through `sync_to_async` on the
    one thread-sensitive thread, for every frame and every channel-layer message of every
    socket: with thousands of sockets that shared thread becomes a queue every push waits in.
    A consumer that mixes this in reaches the database only through `database_sync_to_async`
    (or an executor of its own that closes connections the same way), never on that thread.
    """

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def realtime_batch(self, message: dict[str, Any]) -> None:
        """Several messages for this socket's group sent as one (core.realtime.batched)."""
        for inner in message["messages"]:
            await self.dispatch(inner)


class WorkspaceEventsConsumer(DirectDispatch, AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    groups_joined: list[str]

    async def connect(self) -> None:
        self.groups_joined = []
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close()
            return
        self.groups_joined = [workspace_group(pk) for pk in await _workspace_ids_for(user)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def realtime_event(self, message: dict[str, Any]) -> None:
        await self.send_json(
            {
                "event": message["event"],
                "workspace_id": message["workspace_id"],
                "payload": message["payload"],
            }
        )
