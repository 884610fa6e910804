"""The calendar's URLs (each with its row in core/routes.py)."""

from django.urls import path

from confide.scheduling import attendance_views

app_name = "scheduling"

urlpatterns: list = [
    # --- part "reminders": the monthly attendance report (page and CSV) ---
    path("calendar/reports/attendance/", attendance_views.attendance_report, name="attendance-report"),
]
