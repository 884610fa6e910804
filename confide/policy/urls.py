from django.urls import path

from confide.policy import views

app_name = "policy"
urlpatterns = [
    path("p/<slug:practice_slug>/privacy/", views.notice, name="notice"),
    path("p/<slug:practice_slug>/privacy/versions/<int:number>/", views.notice_version, name="notice-version"),
    path("practice/privacy-policy/", views.policy_settings, name="settings"),
    path("practice/privacy-policy/publish/", views.policy_publish, name="publish"),
    path("practice/privacy-policy/versions/<uuid:version_id>/acknowledge/", views.acknowledge, name="acknowledge"),
]
