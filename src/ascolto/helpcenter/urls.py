from django.urls import path

from ascolto.helpcenter import views

app_name = "helpcenter"
urlpatterns = [
    path("<slug:ws>/", views.home, name="home"),
    path("<slug:ws>/<str:lang>/", views.home_in, name="home_in"),
    path("<slug:ws>/<str:lang>/search/", views.search, name="search"),
    path("<slug:ws>/<str:lang>/c/<slug:slug>/", views.category, name="category"),
    path("<slug:ws>/<str:lang>/a/<str:slug>/", views.article, name="article"),
    path("<slug:ws>/<str:lang>/a/<str:slug>/feedback/", views.feedback, name="feedback"),
]
