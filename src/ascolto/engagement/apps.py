from django.apps import AppConfig


class EngagementConfig(AppConfig):
    name = "ascolto.engagement"
    label = "engagement"
    verbose_name = "Engagement"
