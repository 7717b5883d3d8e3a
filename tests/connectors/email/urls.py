"""The product's URLs plus the email connector's, until config/urls.py mounts it."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from ascolto.config.urls import urlpatterns as product_urls

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("ascolto.connectors.email.urls")),
    *product_urls,
]
