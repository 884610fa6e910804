from django.urls import path

from confide.rights import views

app_name = "rights"
urlpatterns = [
    path("rights/requests/", views.queue, name="queue"),
    # amend part: the amendment panel's page and actions, records release links
    path("rights/requests/<uuid:request_id>/amendment/", views.amendment, name="amendment"),
    path("rights/requests/<uuid:request_id>/amendment/start/", views.amendment_start, name="amendment-start"),
    path("rights/requests/<uuid:request_id>/amendment/accept/", views.amendment_accept, name="amendment-accept"),
    path("rights/requests/<uuid:request_id>/amendment/deny/", views.amendment_deny, name="amendment-deny"),
    path("rights/requests/<uuid:request_id>/amendment/rebuttal/", views.amendment_rebuttal, name="amendment-rebuttal"),
    path("rights/patients/<uuid:patient_id>/release/", views.release_new, name="release-new"),
    path("rights/releases/<uuid:release_id>/revoke/", views.release_revoke, name="release-revoke"),
    path("release/<str:release_token>/", views.release_open, name="release-open"),
]
