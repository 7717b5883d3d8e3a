from django.apps import AppConfig


class AssistantConfig(AppConfig):
    name = "ascolto.assistant"
    label = "assistant"
    verbose_name = "Assistant"
