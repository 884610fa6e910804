from django.urls import path

from confide.rights import intake_views, views

app_name = "rights"
urlpatterns = [
    path("rights/requests/", views.queue, name="queue"),
    # disc part
    path("rights/requests/<uuid:request_id>/accounting/", views.accounting_prepare, name="accounting-prepare"),
    # --- part retention
    path("rights/requests/<uuid:request_id>/deletion/", views.deletion, name="deletion"),
    path("rights/requests/<uuid:request_id>/deletion/execute/", views.deletion_execute, name="deletion-execute"),
    # --- end part retention
    # --- part "intake" (issue 17): the public form, its code page, staff logging
    path("rights/requests/new/", intake_views.log_request, name="log"),
    path("p/<slug:practice_slug>/privacy/request/", intake_views.public_request, name="public-request"),
    path("p/<slug:practice_slug>/privacy/request/<str:check_token>/verify/", intake_views.public_verify, name="public-verify"),
    # --- end part "intake"
    # --- queue part (issue 17)
    path("rights/requests/<uuid:request_id>/", views.request_page, name="request"),
    path("rights/requests/<uuid:request_id>/extend/", views.request_extend, name="request-extend"),
    path("rights/requests/<uuid:request_id>/close/", views.request_close, name="request-close"),
    path("rights/requests/<uuid:request_id>/appeal/", views.request_appeal, name="request-appeal"),
    path("rights/letters/<uuid:letter_id>/", views.letter, name="letter"),
    # --- end queue part
    # amend part: the amendment panel's page and actions, records release links
    path("rights/requests/<uuid:request_id>/amendment/", views.amendment, name="amendment"),
    path("rights/requests/<uuid:request_id>/amendment/start/", views.amendment_start, name="amendment-start"),
    path("rights/requests/<uuid:request_id>/amendment/accept/", views.amendment_accept, name="amendment-accept"),
    path("rights/requests/<uuid:request_id>/amendment/deny/", views.amendment_deny, name="amendment-deny"),
    path("rights/requests/<uuid:request_id>/amendment/rebuttal/", views.amendment_rebuttal, name="amendment-rebuttal"),
    path("rights/patients/<uuid:patient_id>/release/", views.release_new, name="release-new"),
    path("rights/releases/<uuid:release_id>/revoke/", views.release_revoke, name="release-revoke"),
    path("release/<str:release_token>/", views.release_open, name="release-open"),
    # part "export": the copy panel of a see/copy request's page
    path("rights/requests/<uuid:request_id>/copy/", views.export_start, name="export-start"),
    path("rights/requests/<uuid:request_id>/copy/authorization/", views.export_authorize, name="export-authorize"),
    path("rights/copies/<uuid:export_id>/", views.export_status, name="export-status"),
]
