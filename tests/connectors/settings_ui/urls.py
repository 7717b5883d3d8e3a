"""The product's URLs with the channel settings pages mounted, whether or not config/urls.py
mounts them yet."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from ascolto.config.urls import urlpatterns as product_urls

urlpatterns: list[URLPattern | URLResolver] = [
    path("settings/channels/", include("ascolto.connectors.settings_ui.urls")),
    *(p for p in product_urls if getattr(p, "namespace", None) != "channel_settings"),
]
