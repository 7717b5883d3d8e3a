from django.urls import path

from ascolto.surveys import builder_views, staff_views

app_name = "surveys_staff"
urlpatterns = [
    path("", staff_views.survey_list, name="list"),
    path("new/", builder_views.survey_new, name="new"),
    path("<int:pk>/", staff_views.survey_report, name="report"),
    path("<int:pk>/edit/", builder_views.survey_edit, name="edit"),
    path("<int:pk>/active/", builder_views.survey_activate, name="activate"),
    path("<int:pk>/preview/", builder_views.survey_preview, name="preview"),
    path("<int:pk>/responses/", staff_views.response_list, name="responses"),
    path("follow-ups/", staff_views.followup_queue, name="followups"),
    path("follow-ups/<int:pk>/", staff_views.followup_update, name="followup_update"),
]
