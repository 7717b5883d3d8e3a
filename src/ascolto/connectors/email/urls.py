"""Mounted at the site root: `path("", include("ascolto.connectors.email.urls"))`."""

from django.urls import path

from ascolto.connectors.email import views

app_name = "email_connector"

urlpatterns = [
    path("connectors/email/<str:token>/inbound", views.inbound, name="inbound"),
]
