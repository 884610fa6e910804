"""The calendar's URLs (each with its row in core/routes.py)."""

from django.urls import path

from confide.scheduling import google_views

app_name = "scheduling"

urlpatterns: list = [
    # google part (issue 16 item 4): the clinician's own Google Calendar link
    path("calendar/google/", google_views.google_page, name="google"),
    path("calendar/google/connect/", google_views.google_connect, name="google-connect"),
    path("calendar/google/callback/", google_views.google_callback, name="google-callback"),
    path("calendar/google/disconnect/", google_views.google_disconnect, name="google-disconnect"),
]
