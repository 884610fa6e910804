"""The attendance report's page and CSV (confide/scheduling/attendance.py): counts only."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from confide.core.decorators import route
from confide.core.errors import InvalidInput
from confide.scheduling.attendance import as_csv, attendance, parse_month


@route("scheduling:attendance-report")
def attendance_report(request: HttpRequest) -> HttpResponse:
    from confide.scheduling.clock import practice_zone

    today = timezone.now().astimezone(practice_zone(request.actor.practice_id)).date()
    wanted = str(request.GET.get("format", "") or "")[:8]
    try:
        if wanted not in ("", "html", "csv"):
            raise InvalidInput("The report comes as a page or as CSV (format=csv).")
        year, month = parse_month(request.GET.get("month"), today=today)
    except InvalidInput as exc:
        return render(request, "scheduling/attendance_report.html", {"error": str(exc), "month_value": ""}, status=400)
    report = attendance(request.actor.practice_id, year, month)
    if wanted == "csv":
        response = HttpResponse(as_csv(report), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="attendance-{report.key}.csv"'
        return response
    return render(request, "scheduling/attendance_report.html", {"report": report, "month_value": report.key})
