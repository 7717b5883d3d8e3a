from django.urls import path

from ascolto.surveys import staff_views

app_name = "surveys_staff"
urlpatterns = [
    path("", staff_views.survey_list, name="list"),
    path("<int:pk>/", staff_views.survey_report, name="report"),
    path("<int:pk>/responses/", staff_views.response_list, name="responses"),
    path("follow-ups/", staff_views.followup_queue, name="followups"),
    path("follow-ups/<int:pk>/", staff_views.followup_update, name="followup_update"),
]
