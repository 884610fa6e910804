"""The privacy officer's break-the-glass report. Thin: call the service, render."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from confide.access import services
from confide.core.decorators import route


@route("access:break-glass-report")
def break_glass_report(request: HttpRequest) -> HttpResponse:
    openings = services.list_break_glass_openings(request.actor, request=request)
    return render(request, "access/break_glass_report.html", {"openings": openings})
