from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "ascolto.analytics"
    label = "analytics"
    verbose_name = "Analytics"
