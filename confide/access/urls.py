from django.urls import path

from confide.access import views

app_name = "access"
urlpatterns = [
    path("access/break-glass/", views.break_glass_report, name="break-glass-report"),
    path("access/break-glass/<uuid:opening_id>/reviewed/", views.break_glass_reviewed, name="break-glass-reviewed"),
]
