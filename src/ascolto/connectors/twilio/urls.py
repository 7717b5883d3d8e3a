"""Twilio webhooks. Mounted with `path("connectors/twilio/", include(...))` in config/urls.py:
/connectors/twilio/<account id>/inbound and /connectors/twilio/<account id>/status."""

from django.urls import path

from ascolto.connectors.twilio import views

app_name = "connectors_twilio"

urlpatterns = [
    path("<int:account_id>/inbound", views.inbound, name="inbound"),
    path("<int:account_id>/status", views.status, name="status"),
]
