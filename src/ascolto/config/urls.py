from django.contrib import admin
from django.urls import include, path

from ascolto.config.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("ascolto.core.urls")),
    path("customers/", include("ascolto.customers.urls")),
    path("inbox/", include("ascolto.inbox.urls")),
    path("s/", include("ascolto.surveys.urls")),
    path("surveys/", include("ascolto.surveys.staff_urls")),
    path("analytics/", include("ascolto.analytics.urls")),
    path("help/", include("ascolto.helpcenter.urls")),
    path("deflection/", include("ascolto.assistant.urls")),
    path("help-admin/", include("ascolto.helpcenter.staff_urls")),
    path("connectors/twilio/", include("ascolto.connectors.twilio.urls")),
    path("connectors/meta/", include("ascolto.connectors.meta.urls")),
    path("", include("ascolto.connectors.email.urls")),
    path("", include("ascolto.connectors.webchat.urls")),
    path("engagement/campaigns/", include("ascolto.engagement.staff_campaigns_urls")),
    path("engagement/", include("ascolto.engagement.urls")),
    path("recommendations/", include("ascolto.recommendations.urls")),
    path("engagement/", include("ascolto.engagement.staff_urls")),
    path("settings/channels/", include("ascolto.connectors.settings_ui.urls")),
]
