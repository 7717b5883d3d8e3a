"""The project's URLs plus the widget's, for tests that do not depend on config/urls.py."""

from django.urls import include, path

from ascolto.config.urls import urlpatterns as project_urlpatterns

urlpatterns = [path("", include("ascolto.connectors.webchat.urls")), *project_urlpatterns]
