"""Pushes to the widgets of one visitor: a channel-layer group per (inbox, customer).

Every open tab of the visitor joins the group, so an agent's reply, the agent typing and the
end of the chat reach all of them, and a message written in one tab shows in the others.
The group holds widget sockets only: agents get their events from core.realtime.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from ascolto.connectors.webchat.protocol import validate_server_message
from ascolto.core import realtime

MESSAGE_TYPE = "webchat.push"


def visitor_group(inbox_id: int, customer_id: int) -> str:
    return f"webchat.visitor.{inbox_id}.{customer_id}"


def envelope(frame: dict[str, Any], *, skip_channel: str = "") -> dict[str, Any]:
    """The channel-layer message; `skip_channel` is a socket that already has the frame."""
    return {"type": MESSAGE_TYPE, "frame": validate_server_message(frame), "skip": skip_channel}


def push_on_commit(*, inbox_id: int, customer_id: int, frame: dict[str, Any]) -> None:
    """Send a frame to a visitor's widgets once the current transaction commits (at once outside
    one). Failures are logged by core.realtime, never raised: widgets resync on reconnect."""
    message = envelope(frame)
    group = visitor_group(inbox_id, customer_id)
    transaction.on_commit(lambda: realtime._send(group, message))
