from django.urls import path

from confide.site import views

app_name = "site"
urlpatterns = [
    path("setup/", views.setup, name="setup"),
]
