"""A URL configuration for the help center tests: its API router under /api/v1/, its public
pages under /help/ and its staff pages under /help-admin/, in front of the product's URLs.

Until the product mounts them (config/urls.py, config/api.py), the tests use this; afterwards
the product serves the same views at the same paths.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from ascolto.config.api import AscoltoAPI
from ascolto.config.urls import urlpatterns as product_urls
from ascolto.core.api import JsonParser, install_problem_handlers
from ascolto.helpcenter.api import router

api = AscoltoAPI(
    title="Ascolto help center API (tests)",
    version="1-helpcenter-tests",
    urls_namespace="helpcenter-api-tests",
    parser=JsonParser(),
)
install_problem_handlers(api)
api.add_router("", router)

_product = [
    p
    for p in product_urls
    if not (
        isinstance(p, URLResolver)
        and getattr(p, "namespace", "") in {"helpcenter", "helpcenter_staff"}
    )
]
urlpatterns: list[URLPattern | URLResolver] = [
    path("api/v1/", api.urls),
    path("help/", include("ascolto.helpcenter.urls")),
    path("help-admin/", include("ascolto.helpcenter.staff_urls")),
    *_product,
]
