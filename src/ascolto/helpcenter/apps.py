from django.apps import AppConfig


class HelpcenterConfig(AppConfig):
    name = "ascolto.helpcenter"
    label = "helpcenter"
    verbose_name = "Help center"
