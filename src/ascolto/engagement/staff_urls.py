"""Staff pages, mounted with `path("engagement/", include("ascolto.engagement.staff_urls"))`."""

from django.urls import path

from ascolto.engagement import staff_views

app_name = "engagement_staff"
urlpatterns = [
    path("", staff_views.overview, name="overview"),
    path("rules/new/", staff_views.rule_new, name="rule_new"),
    path("rules/<int:pk>/", staff_views.rule_edit, name="rule"),
    path("rules/<int:pk>/active/", staff_views.rule_toggle, name="rule_toggle"),
    path("rules/<int:pk>/dry-run/", staff_views.rule_dry_run, name="dry_run"),
    path("rules/<int:pk>/sends/", staff_views.rule_sends, name="rule_sends"),
    path("sends/", staff_views.send_list, name="sends"),
    path("templates/", staff_views.template_list, name="templates"),
    path("templates/new/", staff_views.template_new, name="template_new"),
    path("templates/<int:pk>/", staff_views.template_edit, name="template"),
    path("templates/preview/", staff_views.template_preview, name="template_preview"),
    path("customers/", staff_views.customer_search, name="customer_search"),
    path("settings/", staff_views.settings_page, name="settings"),
    path("settings/secret/", staff_views.settings_regenerate_secret, name="regenerate_secret"),
]
