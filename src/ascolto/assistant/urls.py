"""Public pages of the assistant, mounted with
`path("deflection/", include("ascolto.assistant.urls"))`."""

from django.urls import path

from ascolto.assistant import views

app_name = "assistant_public"
urlpatterns = [
    path("answered/<str:token>/", views.email_answered, name="email_answered"),
]
