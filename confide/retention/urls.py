from django.urls import path

from confide.retention import views

app_name = "retention"
urlpatterns = [
    path("retention/", views.schedule, name="schedule"),
    path("retention/holds/", views.hold_set, name="hold-set"),
    path("retention/holds/<uuid:hold_id>/release/", views.hold_release, name="hold-release"),
]
