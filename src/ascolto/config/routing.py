"""Websocket routes of every app."""

from __future__ import annotations

from typing import Any

from django.urls import path

from ascolto.core.consumers import WorkspaceEventsConsumer
from ascolto.inbox.consumers import InboxPresenceConsumer

websocket_urlpatterns: list[Any] = [
    path("ws/events/", WorkspaceEventsConsumer.as_asgi()),
    path("ws/inbox/", InboxPresenceConsumer.as_asgi()),
]
