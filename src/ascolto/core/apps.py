from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "ascolto.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from ascolto.core import outbox, pgtypes

        outbox.autodiscover_handlers()
        pgtypes.install()
