"""The patient portal's URLs, all under /portal/ (each with its row in core/routes.py)."""

from django.urls import path

from confide.portal import account_views, views

app_name = "portal"

urlpatterns = [
    path("portal/signin/", views.signin, name="signin"),
    path("portal/signout/", views.signout, name="signout"),
    path("portal/signin/verify/", views.mfa_verify, name="mfa-verify"),
    path("portal/security/authenticator/", views.mfa_enrol, name="mfa-enrol"),
    path("portal/confirm/", views.reauth, name="reauth"),
    path("portal/", views.home, name="home"),
    path("portal/switch/", views.switch, name="switch"),
    # accounts (portal/account_views.py): the invitation link, the account page, closing, reset
    path("portal/invitation/accept/", account_views.invitation_accept, name="invitation-accept"),
    path("portal/invitation/", account_views.invitation, name="invitation"),
    path("portal/account/", account_views.account, name="account"),
    path("portal/account/password/", account_views.password_change, name="password-change"),
    path("portal/account/authenticator/remove/", account_views.mfa_remove, name="mfa-remove"),
    path("portal/account/recovery-codes/", account_views.recovery_codes, name="recovery-codes"),
    path("portal/account/close/", account_views.deactivate, name="deactivate"),
    path("portal/closed/", account_views.closed, name="closed"),
    path("portal/password-reset/", account_views.password_reset, name="password-reset"),
    path("portal/password-reset/link/", account_views.password_reset_link, name="password-reset-link"),
    path("portal/password-reset/new/", account_views.password_reset_new, name="password-reset-new"),
]
