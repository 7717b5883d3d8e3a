"""Mounted with `path("engagement/", include("ascolto.engagement.urls"))` in config/urls.py."""

from django.urls import path

from ascolto.engagement import views

app_name = "engagement"

urlpatterns = [
    path("webhooks/<slug:slug>/generic", views.generic_webhook, name="generic_webhook"),
    path("webhooks/<slug:slug>/shopify", views.shopify_webhook, name="shopify_webhook"),
]
