"""The calendar's URLs (each with its row in core/routes.py)."""

from django.urls import path

from confide.scheduling import attendance_views, feed_views, google_views, views

app_name = "scheduling"

urlpatterns: list = [
    # feed part: the private iCalendar feed and .ics import
    path("calendar/feed/", feed_views.feed_page, name="feed"),
    path("calendar/feed/import/", feed_views.feed_import, name="feed-import"),
    path("calendar/feed/<str:feed_token>.ics", feed_views.feed_ics, name="feed-ics"),
    # --- part "reminders": the monthly attendance report (page and CSV) ---
    path("calendar/reports/attendance/", attendance_views.attendance_report, name="attendance-report"),
    # google part (issue 16 item 4): the clinician's own Google Calendar link
    path("calendar/google/", google_views.google_page, name="google"),
    path("calendar/google/connect/", google_views.google_connect, name="google-connect"),
    path("calendar/google/callback/", google_views.google_callback, name="google-callback"),
    path("calendar/google/disconnect/", google_views.google_disconnect, name="google-disconnect"),
    path("calendar/", views.calendar_page, name="calendar"),
    path("calendar/today/", views.today_page, name="today"),
    path("calendar/agenda/", views.agenda_page, name="agenda"),
    path("calendar/book/", views.book_page, name="book"),
    path("calendar/waitlist/", views.waitlist_page, name="waitlist"),
    path("calendar/waitlist/<uuid:entry_id>/close/", views.waitlist_close, name="waitlist-close"),
    path("calendar/settings/", views.settings_page, name="settings"),
    path("calendar/appointments/<uuid:appointment_id>/", views.appointment_page, name="appointment"),
    path("calendar/appointments/<uuid:appointment_id>/move/", views.appointment_move, name="appointment-move"),
    path("calendar/appointments/<uuid:appointment_id>/cancel/", views.appointment_cancel, name="appointment-cancel"),
    path("calendar/appointments/<uuid:appointment_id>/status/", views.appointment_status, name="appointment-status"),
]
