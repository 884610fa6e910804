"""The retention schedule (the dry-run view) and legal holds. Thin: call the service, render."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from confide.core.decorators import route
from confide.core.errors import InvalidInput
from confide.retention import engine


def _schedule(request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
    schedule = engine.get_schedule(actor=request.actor, request=request)
    return render(request, "retention/schedule.html", {"schedule": schedule, "error": error}, status=status)


@route("retention:schedule")
def schedule(request: HttpRequest) -> HttpResponse:
    return _schedule(request)


def _back(request: HttpRequest):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) and target.startswith("/rights/"):
        return redirect(target)
    return redirect("retention:schedule")


@route("retention:hold-set")
def hold_set(request: HttpRequest) -> HttpResponse:
    try:
        engine.do_set_hold(actor=request.actor, patient_id=request.POST.get("patient"), reason=request.POST.get("reason"), request=request)
    except InvalidInput as exc:
        return _schedule(request, error=str(exc), status=400)
    messages.success(request, "The record is on legal hold: it will not be deleted or destroyed until the hold is released.")
    return _back(request)


@route("retention:hold-release")
def hold_release(request: HttpRequest, hold_id) -> HttpResponse:
    try:
        engine.do_release_hold(actor=request.actor, hold_id=hold_id, request=request)
    except InvalidInput as exc:
        return _schedule(request, error=str(exc), status=400)
    messages.success(request, "The legal hold was released.")
    return redirect("retention:schedule")
