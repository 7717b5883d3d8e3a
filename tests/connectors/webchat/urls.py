"""The product's URLs, which include the widget's."""

from ascolto.config.urls import urlpatterns

__all__ = ["urlpatterns"]
