from django.urls import path

from confide.audit import views

app_name = "audit"
urlpatterns = [
    path("audit/", views.audit_log, name="log"),
    path("audit/export/", views.audit_log_export, name="log-export"),
]
