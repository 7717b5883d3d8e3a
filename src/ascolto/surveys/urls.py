from django.urls import path

from ascolto.surveys import views

app_name = "surveys"
urlpatterns = [
    path("<str:token>/", views.respond, name="respond"),
    path("<str:token>/answer/<int:score>/", views.answer, name="answer"),
]
