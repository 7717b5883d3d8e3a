"""The project's URLs plus the messaging webhooks and the calls API, for tests that do not
depend on config/urls.py and config/api.py mounting them."""

from django.urls import URLPattern, URLResolver, include, path

from ascolto.config.api import AscoltoAPI
from ascolto.config.urls import urlpatterns as project_urlpatterns
from ascolto.connectors.meta.api import router as meta_router
from ascolto.connectors.voice.api import router as voice_router
from ascolto.core.api import JsonParser, install_problem_handlers
from ascolto.customers.api import router as customers_router
from ascolto.inbox.api import router as inbox_router

api = AscoltoAPI(
    title="Ascolto messaging API (tests)",
    version="1-messaging-tests",
    urls_namespace="messaging-api-tests",
    parser=JsonParser(),
)
install_problem_handlers(api)
api.add_router("", inbox_router)
api.add_router("", voice_router)
api.add_router("", meta_router)
api.add_router("", customers_router)

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/v1/", api.urls),
    path("connectors/twilio/", include("ascolto.connectors.twilio.urls")),
    path("connectors/meta/", include("ascolto.connectors.meta.urls")),
    *project_urlpatterns,
]
