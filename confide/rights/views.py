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
