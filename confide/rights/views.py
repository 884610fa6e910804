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
