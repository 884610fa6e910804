from django.urls import path

from confide.core import views

app_name = "core"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("practices/", views.select_practice, name="select-practice"),
    path("practices/switch/", views.switch_practice, name="switch-practice"),
    path("practice/settings/", views.practice_settings, name="practice-settings"),
]
