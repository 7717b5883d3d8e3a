"""A URL configuration that mounts the surveys API router for its tests.

Until the router is added to the product's API (src/ascolto/config/api.py), the API tests use
this: the same AscoltoAPI class, problem handlers and parser, under /api/v1/, in front of the
product's own URLs. Once the product mounts the router, its /api/v1/ serves the same operations.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from ascolto.config.api import AscoltoAPI
from ascolto.config.urls import urlpatterns as product_urls
from ascolto.core.api import JsonParser, install_problem_handlers
from ascolto.surveys.api import router

api = AscoltoAPI(
    title="Ascolto surveys API (tests)",
    version="1-surveys-tests",
    urls_namespace="surveys-api-tests",
    parser=JsonParser(),
)
install_problem_handlers(api)
api.add_router("", router)

urlpatterns: list[URLPattern | URLResolver] = [path("api/v1/", api.urls), *product_urls]
