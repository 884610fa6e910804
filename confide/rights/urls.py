from django.urls import path

from confide.rights import views

app_name = "rights"
urlpatterns = [
    path("rights/requests/", views.queue, name="queue"),
    # disc part
    path("rights/requests/<uuid:request_id>/accounting/", views.accounting_prepare, name="accounting-prepare"),
    # --- part retention
    path("rights/requests/<uuid:request_id>/deletion/", views.deletion, name="deletion"),
    path("rights/requests/<uuid:request_id>/deletion/execute/", views.deletion_execute, name="deletion-execute"),
    # --- end part retention
]
