from django.urls import path

from confide.records import audit_views, intake_views, views

app_name = "records"
P = "patients/<uuid:patient_id>"
urlpatterns = [
    path("patients/", views.patient_list, name="patient-list"),
    path("patients/new/", views.patient_new, name="patient-new"),
    path("audit/patients/", audit_views.audit_patient_finder, name="audit-patient-finder"),
    # the chart's tabs
    path(f"{P}/", views.chart_overview, name="chart"),
    path(f"{P}/clinical/", views.chart_clinical, name="chart-clinical"),
    path(f"{P}/notes/", views.chart_notes, name="chart-notes"),
    path(f"{P}/psychotherapy/", views.chart_psychotherapy, name="chart-psychotherapy"),
    path(f"{P}/break-glass/", views.chart_break_glass, name="chart-break-glass"),
    path(f"{P}/documents/", views.chart_documents, name="chart-documents"),
    path(f"{P}/consultations/", intake_views.chart_consultations, name="chart-consultations"),
    path(f"{P}/privacy/", views.chart_privacy, name="chart-privacy"),
    path(f"{P}/portal/", views.chart_portal, name="chart-portal"),
    # editing the record
    path(f"{P}/edit/", views.patient_edit, name="patient-edit"),
    path(f"{P}/edit/health/", views.patient_edit_health, name="patient-edit-health"),
    path(f"{P}/edit/insurance/", views.patient_edit_insurance, name="patient-edit-insurance"),
    path(f"{P}/clinical/medications/", views.medication_add, name="medication-add"),
    path(f"{P}/clinical/allergies/", views.allergy_add, name="allergy-add"),
    path(f"{P}/clinical/conditions/", views.condition_add, name="condition-add"),
    path(f"{P}/clinical/status/", views.item_status, name="item-status"),
    path(f"{P}/merge/", views.patient_merge, name="patient-merge"),
    # notes
    path(f"{P}/notes/new/", views.note_new, name="note-new"),
    path(f"{P}/notes/<uuid:note_id>/edit/", views.note_edit, name="note-edit"),
    path(f"{P}/notes/<uuid:note_id>/sign/", views.note_sign, name="note-sign"),
    path(f"{P}/notes/<uuid:note_id>/addendum/", views.note_addendum, name="note-addendum"),
    path(f"{P}/psychotherapy-notes/", views.psychotherapy_new, name="psychotherapy-new"),
    path(f"{P}/psychotherapy-notes/<uuid:psychotherapy_note_id>/sign/", views.psychotherapy_sign, name="psychotherapy-sign"),
    path(f"{P}/psychotherapy-notes/<uuid:psychotherapy_note_id>/addendum/", views.psychotherapy_addendum, name="psychotherapy-addendum"),
    # documents and photos
    path(f"{P}/documents/upload/", views.file_upload, name="file-upload"),
    path(f"{P}/documents/<uuid:document_id>/", views.document_download, name="document-download"),
    path(f"{P}/authorizations/<uuid:document_id>/", views.authorization_download, name="authorization-download"),
    path(f"{P}/portal-links/<uuid:link_id>/document/", views.portal_link_document, name="portal-link-document"),
    path(f"{P}/photos/<uuid:photo_id>/", views.photo_view, name="photo-view"),
    path(f"{P}/photos/<uuid:photo_id>/image/", views.photo_image, name="photo-image"),
]
