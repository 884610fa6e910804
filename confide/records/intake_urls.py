from django.urls import path

from confide.records import intake_views as views

app_name = "intake"
urlpatterns = [
    path("p/<slug:practice_slug>/consult/", views.consult, name="consult"),
    path("intake/", views.queue, name="queue"),
    path("intake/form/", views.form_settings, name="form"),
    path("intake/<uuid:submission_id>/", views.detail, name="detail"),
    path("intake/<uuid:submission_id>/photos/<uuid:photo_id>/", views.photo, name="photo"),
    path("intake/<uuid:submission_id>/accept/", views.accept, name="accept"),
    path("intake/<uuid:submission_id>/reject/", views.reject, name="reject"),
]
