"""Staff pages for campaigns. Mounted with
`path("engagement/campaigns/", include("ascolto.engagement.staff_campaigns_urls"))` in
config/urls.py (before the `engagement/` webhooks include)."""

from django.urls import path

from ascolto.engagement import staff_campaigns_views as views

app_name = "engagement_campaigns"

urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_new, name="new"),
    path("<int:pk>/", views.campaign_detail, name="detail"),
    path("<int:pk>/<slug:action>/", views.campaign_action, name="action"),
]
