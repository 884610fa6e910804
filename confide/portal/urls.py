"""The patient portal's URLs, all under /portal/ (each with its row in core/routes.py)."""

from django.urls import path

from confide.portal import account_views, appointment_views, message_views, passkey_views, rights_export_views, views

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
    path("portal/privacy/disclosures.pdf", views.disclosures_pdf, name="disclosures-pdf"),  # disc part
    path("portal/privacy/request/", views.rights_request, name="rights-request"),
    # queue part (issue 17): appeal a decided request; read a letter about a request
    path("portal/privacy/requests/<uuid:request_id>/appeal/", views.rights_appeal, name="rights-appeal"),
    path("portal/privacy/letters/<uuid:letter_id>/", views.rights_letter, name="rights-letter"),
    # amend part
    path("portal/privacy/amendments/<uuid:amendment_id>/disagreement/", views.amendment_disagree, name="amendment-disagree"),
    # part "export": the copy of the patient's information for a see/copy request (confide/rights/export.py)
    path("portal/privacy/copy/<uuid:export_id>/", rights_export_views.rights_export_status, name="rights-export-status"),
    path("portal/privacy/copy/<uuid:export_id>/file/", rights_export_views.rights_export_download, name="rights-export-download"),
    path("portal/notifications/", views.notifications, name="notifications"),
    path("portal/notice/read/", views.acknowledge_notice, name="acknowledge-notice"),
    path("portal/record/", views.record_page, name="record"),
    path("portal/record/documents/<uuid:document_id>/", views.record_document, name="record-document"),
    path("portal/record/download/", views.record_export, name="record-export"),
    path("portal/record/download/<uuid:export_id>/", views.record_export_status, name="record-export-status"),
    path("portal/record/download/<uuid:export_id>/file/", views.record_export_file, name="record-export-file"),
    path("portal/messages/", message_views.messages_page, name="messages"),
    path("portal/messages/send/", message_views.message_send, name="message-send"),
    path("portal/messages/files/<uuid:attachment_id>/", message_views.message_attachment, name="message-attachment"),
    # Scheduling, feed part: the record's appointments, booking, cancelling
    path("portal/appointments/", appointment_views.appointments_page, name="appointments"),
    path("portal/appointments/book/", appointment_views.appointment_book, name="appointment-book"),
    path("portal/appointments/cancel/", appointment_views.appointment_cancel, name="appointment-cancel"),
    path("portal/passkeys/", passkey_views.passkey_list, name="passkeys"),
    path("portal/passkeys/options/", passkey_views.passkey_options, name="passkey-options"),
    path("portal/passkeys/add/", passkey_views.passkey_add, name="passkey-add"),
    path("portal/passkeys/rename/", passkey_views.passkey_rename, name="passkey-rename"),
    path("portal/passkeys/remove/", passkey_views.passkey_remove, name="passkey-remove"),
    path("portal/signin/passkey/options/", passkey_views.passkey_signin_options, name="passkey-signin-options"),
    path("portal/signin/passkey/", passkey_views.passkey_signin, name="passkey-signin"),
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
