from django.urls import path

from confide.disclosures import views

app_name = "disclosures"
P = "patients/<uuid:patient_id>/disclosures"
urlpatterns = [
    path(f"{P}/", views.patient, name="patient"),
    path(f"{P}/accounting/", views.report_download, name="report"),
    path(f"{P}/record/", views.record, name="record"),
    path(f"{P}/compelled/", views.compelled, name="compelled"),
]
