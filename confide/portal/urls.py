"""The patient portal's URLs, all under /portal/ (each with its row in core/routes.py)."""

from django.urls import path

from confide.portal import views

app_name = "portal"

urlpatterns = [
    path("portal/signin/", views.signin, name="signin"),
    path("portal/signout/", views.signout, name="signout"),
    path("portal/signin/verify/", views.mfa_verify, name="mfa-verify"),
    path("portal/security/authenticator/", views.mfa_enrol, name="mfa-enrol"),
    path("portal/confirm/", views.reauth, name="reauth"),
    path("portal/", views.home, name="home"),
    path("portal/switch/", views.switch, name="switch"),
    path("portal/privacy/", views.privacy_centre, name="privacy"),
    path("portal/privacy/choice/", views.privacy_choice, name="privacy-choice"),
    path("portal/privacy/who-opened.csv", views.access_csv, name="access-csv"),
    path("portal/privacy/who-opened.pdf", views.access_pdf, name="access-pdf"),
    path("portal/privacy/request/", views.rights_request, name="rights-request"),
    path("portal/notice/read/", views.acknowledge_notice, name="acknowledge-notice"),
]
