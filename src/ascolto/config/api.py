"""The REST API: one NinjaAPI, one router per app, OpenAPI at /api/v1/openapi.json."""

from ninja import NinjaAPI

api = NinjaAPI(
    title="Ascolto API",
    version="1",
    urls_namespace="api",
    docs_url="/docs",
)
