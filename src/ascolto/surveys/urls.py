from django.urls import path

from ascolto.surveys import chat_views, intercept_views, views

app_name = "surveys"
urlpatterns = [
    path("intercept/<str:key>/", intercept_views.intercept_endpoint, name="intercept"),
    path("<str:token>/", views.respond, name="respond"),
    path("<str:token>/answer/<int:score>/", views.answer, name="answer"),
    path("<str:token>/comment/", chat_views.chat_comment, name="chat_comment"),
]
