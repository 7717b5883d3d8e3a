"""Mounting the widget socket.

The widget is opened from other sites, so its socket must not sit behind the project's
AllowedHostsOriginValidator (which admits only Ascolto's own hosts) nor need a session cookie:
WidgetConsumer checks the origin against the widget's own allowed origins. In config/asgi.py:

    "websocket": with_widget_socket(
        AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
    ),
"""

from __future__ import annotations

from typing import Any

from django.urls import path

from ascolto.connectors.webchat.consumers import WidgetConsumer

PATH = "/ws/widget/"

websocket_urlpatterns: list[Any] = [path("ws/widget/", WidgetConsumer.as_asgi())]

ASGIApp = Any


def with_widget_socket(other: ASGIApp) -> ASGIApp:
    """An ASGI app that sends `ws/widget/` to the widget consumer and every other websocket to
    `other`."""
    widget = WidgetConsumer.as_asgi()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "websocket" and scope.get("path") == PATH:
            await widget(scope, receive, send)
        else:
            await other(scope, receive, send)

    return app
