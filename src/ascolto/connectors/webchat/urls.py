"""Widget URLs. Mounted at the site root (the embed snippet loads `/widget.js`):
`path("", include("ascolto.connectors.webchat.urls"))` in config/urls.py."""

from django.urls import path

from ascolto.connectors.webchat import views

app_name = "webchat"

urlpatterns = [
    path("widget.js", views.widget_js, name="js"),
    path("widget/config", views.widget_config, name="config"),
    path("widget/upload", views.widget_upload, name="upload"),
    path("widget/file/<str:token>/", views.widget_file, name="file"),
    path("widget/demo/", views.widget_demo, name="demo"),
]
