"""ASGI entry point: HTTP through Django, websockets through Channels (see config/routing.py)."""

from __future__ import annotations

import asyncio
import gc
import os
from typing import Any

from django.apps import apps
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ascolto.config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from ascolto.config.routing import websocket_urlpatterns  # noqa: E402
from ascolto.core import realtime  # noqa: E402
from ascolto.surveys.fastintake import with_survey_submits  # noqa: E402


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Tell core.realtime which loop serves the websockets (see realtime.bind_server_loop)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            realtime.bind_server_loop(asyncio.get_running_loop())
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            realtime.bind_server_loop(None)
            await send({"type": "lifespan.shutdown.complete"})
            return


# The origin check keeps other sites from opening a socket with a signed-in user's cookie.
websocket_app: Any = AllowedHostsOriginValidator(
    AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
)
if apps.is_installed("ascolto.connectors.webchat"):
    # The chat widget is embedded in customers' sites: its socket checks origins of its own.
    from ascolto.connectors.webchat.routing import with_widget_socket

    websocket_app = with_widget_socket(websocket_app)

# Survey page submits come by the thousand in a survey wave, and inbound API-channel messages
# from a busy system: ordinary ones are served in front of Django's request cycle
# (surveys/fastintake.py, decision 0011; connectors/api_channel/fastingest.py, decision 0012);
# all else goes to Django.
http_app: Any = with_survey_submits(django_asgi_app)
if apps.is_installed("ascolto.connectors.api_channel"):
    from ascolto.connectors.api_channel.fastingest import with_api_ingest

    http_app = with_api_ingest(http_app)
application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": websocket_app,
        "lifespan": lifespan,
    }
)

# What startup loaded (Django, the apps, their modules) lives as long as the process: keep it
# out of the collector's full passes, which would otherwise walk it again in the middle of a
# request (pauses of tens to hundreds of milliseconds on a busy machine; docs/metrics.md).
gc.freeze()
