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
]
