"""Realtime pushes to browsers, published only after the transaction that caused them commits."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def workspace_group(workspace_id: int) -> str:
    return f"workspace.{workspace_id}"


def publish_on_commit(*, workspace_id: int, event: str, payload: dict[str, Any]) -> None:
    """Send `{"type": "realtime.event", "event": ..., "payload": ...}` to the workspace group."""

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(
                workspace_group(workspace_id),
                {"type": "realtime.event", "event": event, "payload": payload},
            )
        except Exception:
            # A push is a convenience; clients resync from a cursor when they reconnect.
            logger.exception("Realtime publish of %s failed", event)

    transaction.on_commit(send)
