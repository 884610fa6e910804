from django.urls import path

from confide.rights import views

app_name = "rights"
urlpatterns = [
    path("rights/requests/", views.queue, name="queue"),
    # part "export": the copy panel of a see/copy request's page
    path("rights/requests/<uuid:request_id>/copy/", views.export_start, name="export-start"),
    path("rights/requests/<uuid:request_id>/copy/authorization/", views.export_authorize, name="export-authorize"),
    path("rights/copies/<uuid:export_id>/", views.export_status, name="export-status"),
]
