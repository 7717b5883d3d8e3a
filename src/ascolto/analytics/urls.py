from django.urls import path

from ascolto.analytics import targets_views, views
from ascolto.analytics.enps import views as enps_views
from ascolto.analytics.experiments import views as experiment_views
from ascolto.analytics.journey import views as journey_views

app_name = "analytics"
urlpatterns = [
    path("", views.dashboard, {"key": "overview"}, name="overview"),
    path("operations/", views.dashboard, {"key": "operations"}, name="operations"),
    path("voice/", views.dashboard, {"key": "voice"}, name="voice"),
    path("value/", views.dashboard, {"key": "value"}, name="value"),
    path("team/", views.dashboard, {"key": "team"}, name="team"),
    path("conversations/", views.drill_conversations, name="drill_conversations"),
    path("customers/", views.drill_customers, name="drill_customers"),
    path("targets/", targets_views.target_edit, name="targets"),
    path("journey/", journey_views.journey_page, name="journey"),
    path("journey/drill/", journey_views.journey_drill, name="journey_drill"),
    path("experiments/", experiment_views.experiment_list, name="experiments"),
    path("experiments/new/", experiment_views.experiment_new, name="experiment_new"),
    path("experiments/<int:pk>/", experiment_views.experiment_detail, name="experiment_detail"),
    path(
        "experiments/<int:pk>/start/",
        experiment_views.experiment_transition,
        {"action": "start"},
        name="experiment_start",
    ),
    path(
        "experiments/<int:pk>/stop/",
        experiment_views.experiment_transition,
        {"action": "stop"},
        name="experiment_stop",
    ),
    path("enps/", enps_views.enps_page, name="enps"),
    path("enps/prompt/", enps_views.enps_prompt, name="enps_prompt"),
    path("enps/prompt/dismiss/", enps_views.enps_dismiss, name="enps_dismiss"),
    path("enps/<int:pk>/answer/", enps_views.enps_answer, name="enps_answer"),
    path("alerts/<int:pk>/read/", views.alert_read, name="alert_read"),
    path("export/conversations.csv", views.export_conversations_csv, name="export_conversations"),
    path("export/customers.csv", views.export_customers_csv, name="export_customers"),
    path(
        "export/conversations.parquet",
        views.export_parquet,
        {"kind": "conversations"},
        name="export_conversations_parquet",
    ),
    path(
        "export/customers.parquet",
        views.export_parquet,
        {"kind": "customers"},
        name="export_customers_parquet",
    ),
]
