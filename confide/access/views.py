"""The privacy officer's break-the-glass report, and marking an opening reviewed. Thin: call
the service, render (or redirect back with a message)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from confide.access import services
from confide.core.decorators import route


@route("access:break-glass-report")
def break_glass_report(request: HttpRequest) -> HttpResponse:
    openings = services.list_break_glass_openings(request.actor, request=request)
    return render(request, "access/break_glass_report.html", {"openings": openings})


@route("access:break-glass-reviewed")
def break_glass_reviewed(request: HttpRequest, opening_id) -> HttpResponse:
    if services.do_mark_break_glass_reviewed(actor=request.actor, opening_id=opening_id, request=request):
        messages.success(request, "Marked reviewed.")
    else:
        messages.info(request, "Already marked reviewed.")
    return redirect("access:break-glass-report")
