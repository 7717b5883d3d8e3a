"""Meta's webhook. Mounted with `path("connectors/meta/", include(...))` in config/urls.py:
/connectors/meta/<account id>/webhook (GET handshake, POST deliveries)."""

from django.urls import path

from ascolto.connectors.meta import views

app_name = "connectors_meta"

urlpatterns = [path("<int:account_id>/webhook", views.webhook, name="webhook")]
