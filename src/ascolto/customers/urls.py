from django.urls import path

from ascolto.customers import import_views, views

app_name = "customers"
urlpatterns = [
    path("", views.customer_list, name="list"),
    path("<int:pk>/", views.customer_detail, name="detail"),
    path("<int:pk>/timeline/", views.customer_timeline, name="timeline"),
    path("<int:pk>/orders/", views.customer_orders, name="orders"),
    path("<int:pk>/audit/", views.customer_audit, name="audit"),
    path("import/", import_views.import_upload, name="import"),
    path("import/<int:pk>/errors/", import_views.import_errors, name="import_errors"),
]
