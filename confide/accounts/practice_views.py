"""The practice switcher and the practice settings page. Thin: parse, call a service, render."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from confide.accounts import services as account_services
from confide.accounts.forms import PracticeSettingsForm
from confide.accounts.practice import do_update_practice_settings
from confide.core.decorators import route
from confide.core.errors import NotFound


@route("accounts:select-practice")
def select_practice(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/select_practice.html", {"memberships": request.memberships})


@route("accounts:switch-practice")
def switch_practice(request: HttpRequest) -> HttpResponse:
    try:
        membership = account_services.do_switch_practice(request, request.POST.get("practice_id", ""))
    except NotFound:
        messages.error(request, "You are not a member of that practice.")
        return redirect("accounts:select-practice")
    messages.success(request, f"You are now working in {membership.practice.name}.")
    return redirect("core:dashboard")


@route("accounts:practice-settings")
def practice_settings(request: HttpRequest) -> HttpResponse:
    form = PracticeSettingsForm(request.POST or None, instance=request.practice)
    if request.method == "POST" and form.is_valid():
        do_update_practice_settings(actor=request.actor, changes=form.cleaned_data, request=request)
        messages.success(request, "Practice settings saved.")
        return redirect("accounts:practice-settings")
    return render(request, "accounts/practice_settings.html", {"form": form}, status=400 if form.errors else 200)
