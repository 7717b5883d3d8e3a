from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "ascolto.inbox"
    label = "inbox"
    verbose_name = "Inbox"
