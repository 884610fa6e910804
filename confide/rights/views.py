"""The privacy officer's queue of rights requests. Thin: call the service, render."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from confide.core.decorators import route
from confide.rights import services


@route("rights:queue")
def queue(request: HttpRequest) -> HttpResponse:
    requests = services.list_open_requests(actor=request.actor, request=request)
    return render(request, "rights/queue.html", {"requests": requests})


# --- disc part: preparing the accounting of disclosures a request asked for -----------------------
@route("rights:accounting-prepare")
def accounting_prepare(request: HttpRequest, request_id) -> HttpResponse:
    from django.contrib import messages
    from django.shortcuts import redirect

    from confide.core.errors import InvalidInput
    from confide.rights.accounting import do_prepare_accounting

    raw = request.POST.get("version", "")
    if not (raw.isascii() and raw.isdigit() and len(raw) < 10):
        return HttpResponse("The page was incomplete. Reload it and try again.", status=400, content_type="text/plain")
    try:
        do_prepare_accounting(actor=request.actor, request_id=request_id, expected_version=int(raw), request=request)
    except services.ChangedMeanwhile as exc:
        return HttpResponse(str(exc), status=409, content_type="text/plain")
    except InvalidInput as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    messages.success(request, "The accounting is prepared, kept with the request, and the request is closed.")
    return redirect("rights:queue")


# --- part retention: a deletion request's plan and its execution (confide/rights/deletion.py) ---
@route("rights:deletion")
def deletion(request: HttpRequest, request_id) -> HttpResponse:
    return _deletion_page(request, request_id)


def _deletion_page(request: HttpRequest, request_id, *, error: str = "", status: int = 200) -> HttpResponse:
    from confide.core.permissions import Perm
    from confide.retention.models import HoldReason
    from confide.rights import deletion as service

    page = service.get_deletion_page(actor=request.actor, request_id=request_id, request=request)
    context = {"page": page, "error": error, "can_hold": request.actor.has(Perm.LEGAL_HOLD_SET), "reasons": HoldReason.choices}
    return render(request, "rights/deletion.html", context, status=status)


@route("rights:deletion-execute")
def deletion_execute(request: HttpRequest, request_id) -> HttpResponse:
    from django.contrib import messages
    from django.shortcuts import redirect

    from confide.core.errors import InvalidInput
    from confide.rights import deletion as service
    from confide.rights.services import ChangedMeanwhile

    try:
        service.check_execute_deletion(actor=request.actor, request_id=request_id, expected_version=request.POST.get("version"), request=request)
    except ChangedMeanwhile as exc:
        return _deletion_page(request, request_id, error=str(exc), status=409)
    except InvalidInput as exc:
        return _deletion_page(request, request_id, error=str(exc), status=400)
    messages.success(request, "The deletion was started. This page shows its progress.")
    return redirect("rights:deletion", request_id=request_id)
# --- end part retention
