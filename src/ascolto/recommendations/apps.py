from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "ascolto.recommendations"
    label = "recommendations"
    verbose_name = "Recommendations"
