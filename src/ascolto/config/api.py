"""The REST API: one NinjaAPI, one router per app, OpenAPI at /api/v1/openapi.json.

Every response that is an error is a problem document (see core/api.py), including unknown
paths, wrong methods and bodies that are too large, which never reach an operation.
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, URLResolver, re_path
from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation

from ascolto.accounts.api import router as accounts_router
from ascolto.analytics.api import router as analytics_router
from ascolto.analytics.experiments.api import router as experiments_router
from ascolto.assistant.api import router as assistant_router
from ascolto.connectors.api_channel.api import router as api_channel_router
from ascolto.connectors.meta.api import router as meta_router
from ascolto.connectors.voice.api import router as voice_router
from ascolto.core.api import (
    PROBLEM_CONTENT_TYPE,
    JsonParser,
    ProblemOut,
    install_problem_handlers,
    problem_boundary,
    unknown_endpoint,
)
from ascolto.customers.api import router as customers_router
from ascolto.engagement.api import router as engagement_router
from ascolto.engagement.api_campaigns import router as engagement_campaigns_router
from ascolto.helpcenter.api import router as helpcenter_router
from ascolto.inbox.api import router as inbox_router
from ascolto.recommendations.api import router as recommendations_router
from ascolto.surveys.api import router as surveys_router

DESCRIPTION = """\
The Ascolto REST API: customers, identities, organizations, orders, consent and timelines;
inboxes, conversations and messages, the generic API channel and call records; surveys and
their responses and follow-ups; help center articles; metrics and exports.

Authenticate with `Authorization: Bearer asc_...` (an API token, scoped to one workspace) or
with the browser session of the web UI (unsafe methods then need the `X-CSRFToken` header).
Errors are RFC 9457 problem documents (`application/problem+json`). Lists are keyset-paginated:
pass the `next` value of a page as `cursor` to get the following one.
"""


class AscoltoAPI(NinjaAPI):
    def _get_urls(self) -> list[URLResolver | URLPattern]:
        urls = super()._get_urls()
        for pattern in urls:
            if isinstance(pattern, URLPattern):
                pattern.callback = problem_boundary(pattern.callback)
        urls.append(re_path(r"^.*$", problem_boundary(unknown_endpoint), name="unknown"))
        return urls

    def get_openapi_operation_id(self, operation: Operation) -> str:
        # Operation functions have unique names across the API; clients get readable ids.
        return str(operation.view_func.__name__)

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = ProblemOut.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        problem = {
            "description": "A problem document (RFC 9457).",
            "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                responses.setdefault("4XX", problem)
                responses.setdefault("5XX", problem)
        return schema


api = AscoltoAPI(
    title="Ascolto API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    docs_url="/docs",
    parser=JsonParser(),
)
install_problem_handlers(api)
api.add_router("", customers_router)
api.add_router("", accounts_router)
api.add_router("", inbox_router)
api.add_router("", api_channel_router)
api.add_router("", surveys_router)
api.add_router("", voice_router)
api.add_router("", meta_router)
api.add_router("", helpcenter_router)
api.add_router("", analytics_router)
api.add_router("", experiments_router)
api.add_router("", assistant_router)
api.add_router("", engagement_router)
api.add_router("", recommendations_router)
api.add_router("", engagement_campaigns_router)
