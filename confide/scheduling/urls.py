"""The calendar's URLs (each with its row in core/routes.py)."""

from django.urls import path

from confide.scheduling import views

app_name = "scheduling"

urlpatterns: list = [
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
