"""A URL configuration that mounts the inbox and API channel routers for their tests.

Until the routers are added to the product's API (src/ascolto/config/api.py), these tests use
this: the same AscoltoAPI class, problem handlers and parser, under /api/v1/, in front of the
product's own URLs. Once the product mounts them, its /api/v1/ serves the same operations.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from ascolto.config.api import AscoltoAPI
from ascolto.config.urls import urlpatterns as product_urls
from ascolto.connectors.api_channel.api import router as api_channel_router
from ascolto.core.api import JsonParser, install_problem_handlers
from ascolto.inbox.api import router as inbox_router

api = AscoltoAPI(
    title="Ascolto inbox API (tests)",
    version="1-inbox-tests",
    urls_namespace="inbox-api-tests",
    parser=JsonParser(),
)
install_problem_handlers(api)
api.add_router("", inbox_router)
api.add_router("", api_channel_router)

urlpatterns: list[URLPattern | URLResolver] = [path("api/v1/", api.urls), *product_urls]
