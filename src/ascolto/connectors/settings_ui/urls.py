"""Mounted at `settings/channels/`: `path("settings/channels/", include(...))`."""

from django.urls import path

from ascolto.connectors.settings_ui import views

app_name = "channel_settings"

urlpatterns = [
    path("", views.channel_list, name="list"),
    path("new/<str:kind>/", views.channel_new, name="new"),
    path("<int:inbox_id>/", views.channel_edit, name="edit"),
    path("<int:inbox_id>/test/", views.channel_test, name="test"),
    path("<int:inbox_id>/auto-replies/", views.channel_auto_reply, name="auto_reply"),
]
