"""Dashboard, health check and error pages. (The practice switcher and settings: accounts/practice_views.py.)"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from confide.core.decorators import route

_ERROR_TITLES = {
    400: "That request could not be understood",
    403: "You do not have permission for this",
    404: "Not found",
    500: "Something went wrong on our side",
}


def render_error(request: HttpRequest, status: int) -> HttpResponse:
    # Error pages say what kind of error and show the request id, never what was requested.
    context = {"status": status, "title": _ERROR_TITLES[status], "request_id": getattr(request, "request_id", "")}
    return render(request, "errors/error.html", context, status=status)


def bad_request(request, exception=None):
    return render_error(request, 400)


def permission_denied(request, exception=None):
    return render_error(request, 403)


def page_not_found(request, exception=None):
    return render_error(request, 404)


def server_error(request):
    return render_error(request, 500)


@route("core:healthz")
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok\n", content_type="text/plain")


@route("core:dashboard")
def dashboard(request: HttpRequest) -> HttpResponse:
    from confide.core import dashboard

    return render(request, "core/dashboard.html", {"membership": request.membership, "waiting": dashboard.waiting_for(request.actor)})
