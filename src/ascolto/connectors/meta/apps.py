from django.apps import AppConfig


class MetaConfig(AppConfig):
    """WhatsApp Cloud, Messenger and Instagram through Meta's webhooks and Graph API. Mount
    `ascolto.connectors.meta.urls` under `connectors/meta/`. Needs `ascolto.connectors.twilio`
    installed too: it shares its credential encryption and outbound delivery modules."""

    name = "ascolto.connectors.meta"
    label = "connectors_meta"
    verbose_name = "Meta (WhatsApp Cloud, Messenger, Instagram)"
