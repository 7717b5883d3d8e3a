from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "ascolto.accounts"
    label = "accounts"
    verbose_name = "Accounts"
