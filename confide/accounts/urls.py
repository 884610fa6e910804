from django.urls import path

from confide.accounts import invitation_views, practice_views, reset_views, staff_views, views

app_name = "accounts"
urlpatterns = [
    path("signin/", views.login, name="login"),
    path("signout/", views.logout_view, name="logout"),
    path("signin/verify/", views.mfa_verify, name="mfa-verify"),
    path("signin/enrol/", views.mfa_enrol, name="mfa-enrol"),
    path("signin/reset/", reset_views.request_reset, name="password-reset"),
    path("signin/reset/link/", reset_views.open_link, name="password-reset-link"),
    path("signin/reset/new/", reset_views.new_password, name="password-reset-new"),
    path("account/confirm/", views.reauth, name="reauth"),
    path("account/security/", views.security, name="security"),
    path("account/recovery-codes/", views.recovery_codes_regenerate, name="recovery-codes-regenerate"),
    path("account/replace-authenticator/", views.mfa_replace, name="mfa-replace"),
    path("practices/", practice_views.select_practice, name="select-practice"),
    path("practices/switch/", practice_views.switch_practice, name="switch-practice"),
    path("practice/settings/", practice_views.practice_settings, name="practice-settings"),
    path("staff/", staff_views.staff_list, name="staff-list"),
    path("staff/invite/", staff_views.staff_invite, name="staff-invite"),
    path("staff/invitations/<uuid:invitation_id>/revoke/", staff_views.invitation_revoke, name="invitation-revoke"),
    path("staff/invitations/<uuid:invitation_id>/resend/", staff_views.invitation_resend, name="invitation-resend"),
    path("staff/<uuid:membership_id>/deactivate/", staff_views.staff_deactivate, name="staff-deactivate"),
    path("invite/", invitation_views.invitation, name="invitation"),
    path("invite/accept/", invitation_views.invitation_accept, name="invitation-accept"),
    path("staff/<uuid:membership_id>/role/", views.staff_change_role, name="staff-change-role"),
    path("staff/<uuid:membership_id>/reset-mfa/", views.staff_reset_mfa, name="staff-reset-mfa"),
    path("security-events/", views.security_events, name="security-events"),
]
