from django.urls import path

from confide.records import views

app_name = "records"
urlpatterns = [
    path("patients/", views.patient_list, name="patient-list"),
]
