from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EmailConfig(AppConfig):
    """Optional: installed, its outbox handler, polling job and models are discovered by the
    kernel and Huey. Mount `ascolto.connectors.email.urls` for the inbound HTTP endpoint."""

    name = "ascolto.connectors.email"
    label = "email_connector"
    verbose_name = _("Email channel")
