"""Dashboard, practice switcher, practice settings, health check and error pages."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from confide.accounts import services as account_services
from confide.core import services
from confide.core.decorators import route
from confide.core.errors import NotFound
from confide.core.forms import PracticeSettingsForm

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
    return render(request, "core/dashboard.html", {"membership": request.membership})


@route("core:select-practice")
def select_practice(request: HttpRequest) -> HttpResponse:
    return render(request, "core/select_practice.html", {"memberships": request.memberships})


@route("core:switch-practice")
def switch_practice(request: HttpRequest) -> HttpResponse:
    try:
        membership = account_services.do_switch_practice(request, request.POST.get("practice_id", ""))
    except NotFound:
        messages.error(request, "You are not a member of that practice.")
        return redirect("core:select-practice")
    messages.success(request, f"You are now working in {membership.practice.name}.")
    return redirect("core:dashboard")


@route("core:practice-settings")
def practice_settings(request: HttpRequest) -> HttpResponse:
    form = PracticeSettingsForm(request.POST or None, instance=request.practice)
    if request.method == "POST" and form.is_valid():
        services.do_update_practice_settings(actor=request.actor, changes=form.cleaned_data, request=request)
        messages.success(request, "Practice settings saved.")
        return redirect("core:practice-settings")
    return render(request, "core/practice_settings.html", {"form": form}, status=400 if form.errors else 200)
