from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "ascolto.customers"
    label = "customers"
    verbose_name = "Customers"
