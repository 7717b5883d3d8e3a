"""Mounted with `path("recommendations/", include("ascolto.recommendations.urls"))`."""

from django.urls import path

from ascolto.recommendations import views

app_name = "recommendations"

urlpatterns = [
    path("customers/<int:pk>/", views.customer_panel, name="customer_panel"),
]
