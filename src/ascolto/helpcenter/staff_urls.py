from django.urls import path

from ascolto.helpcenter import staff_views

app_name = "helpcenter_staff"
urlpatterns = [
    path("", staff_views.article_list, name="list"),
    path("new/", staff_views.article_new, name="new"),
    path("gaps/", staff_views.content_gaps, name="gaps"),
    path("<int:pk>/<str:lang>/edit/", staff_views.translation_edit, name="edit"),
    path("<int:pk>/<str:lang>/history/", staff_views.translation_history, name="history"),
    path(
        "<int:pk>/publish/",
        staff_views.article_status,
        {"action": "publish"},
        name="publish",
    ),
    path(
        "<int:pk>/unpublish/",
        staff_views.article_status,
        {"action": "unpublish"},
        name="unpublish",
    ),
]
