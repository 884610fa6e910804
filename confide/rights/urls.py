from django.urls import path

from confide.rights import views

app_name = "rights"
urlpatterns = [
    path("rights/requests/", views.queue, name="queue"),
    # --- queue part (issue 17)
    path("rights/requests/<uuid:request_id>/", views.request_page, name="request"),
    path("rights/requests/<uuid:request_id>/extend/", views.request_extend, name="request-extend"),
    path("rights/requests/<uuid:request_id>/close/", views.request_close, name="request-close"),
    path("rights/requests/<uuid:request_id>/appeal/", views.request_appeal, name="request-appeal"),
    path("rights/letters/<uuid:letter_id>/", views.letter, name="letter"),
    # --- end queue part
]
