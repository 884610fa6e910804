from django.urls import path

from confide.rights import views

app_name = "rights"
urlpatterns = [
    path("rights/requests/", views.queue, name="queue"),
    # --- part retention
    path("rights/requests/<uuid:request_id>/deletion/", views.deletion, name="deletion"),
    path("rights/requests/<uuid:request_id>/deletion/execute/", views.deletion_execute, name="deletion-execute"),
    # --- end part retention
]
