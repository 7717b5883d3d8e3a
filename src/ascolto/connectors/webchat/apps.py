from django.apps import AppConfig


class WebchatConfig(AppConfig):
    """Optional: installed, its outbox handlers and realtime events are discovered by the kernel
    and widget.js is also served by staticfiles. No models."""

    name = "ascolto.connectors.webchat"
    label = "webchat"
    verbose_name = "Web chat"
