from django.apps import AppConfig


class ApiChannelConfig(AppConfig):
    """Optional: installed, its outbox handler and delivery job are discovered by the kernel and
    Huey. Settings live in the Inbox's `config` JSON; `InboundIntake` is its idempotency ledger."""

    name = "ascolto.connectors.api_channel"
    label = "api_channel"
    verbose_name = "API channel"
