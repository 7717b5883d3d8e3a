from django.apps import AppConfig


class VoiceConfig(AppConfig):
    """Phone calls: call records in the conversation thread, the customer timeline and the
    agent's handling time. REST operations in `ascolto.connectors.voice.api`."""

    name = "ascolto.connectors.voice"
    label = "connectors_voice"
    verbose_name = "Voice calls"
