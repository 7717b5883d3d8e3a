"""The product's URLs: its /api/v1/ mounts every router these tests call."""

from ascolto.config.urls import urlpatterns

__all__ = ["urlpatterns"]
