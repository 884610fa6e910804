"""Password reset pages (accounts/reset.py has the rules): ask by e-mail, open the link, choose a
new password. Public: the person is signed out, or has forgotten how to sign in."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from confide.accounts import reset
from confide.accounts.forms import NewPasswordForm, PasswordResetRequestForm
from confide.core.decorators import route
from confide.core.errors import InvalidInput

# Where the link's account id and token wait between opening the link and the new password
# (as Django's PasswordResetConfirmView keeps its token in the session).
SESSION_RESET_USER = "confide_reset_user_id"
SESSION_RESET_TOKEN = "confide_reset_token"


@route("accounts:password-reset")
def request_reset(request: HttpRequest) -> HttpResponse:
    form = PasswordResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            reset.request_password_reset(request, form.cleaned_data["email"])
        except reset.TooManyResetRequests as exc:
            return render(request, "accounts/password_reset.html", {"form": form, "refused": str(exc)}, status=429)
        # The same page whether or not an account uses the address.
        return render(request, "accounts/password_reset_sent.html", {"minutes": settings.PASSWORD_RESET_TIMEOUT // 60})
    return render(request, "accounts/password_reset.html", {"form": form}, status=400 if form.errors else 200)


@route("accounts:password-reset-link")
def open_link(request: HttpRequest) -> HttpResponse:
    link = reset.parse_reset_link(request.GET.get("u"), request.GET.get("t"))
    if link is None:
        return _link_not_valid(request)
    request.session[SESSION_RESET_USER] = link.user_id
    request.session[SESSION_RESET_TOKEN] = link.token
    return redirect("accounts:password-reset-new")


@route("accounts:password-reset-new")
def new_password(request: HttpRequest) -> HttpResponse:
    user_id, token = request.session.get(SESSION_RESET_USER), request.session.get(SESSION_RESET_TOKEN)
    link = reset.ResetLink(user_id=user_id, token=token) if isinstance(user_id, int) and isinstance(token, str) else None
    user = reset.access_reset_user(link) if link else None
    if user is None:
        return _link_not_valid(request)
    form = NewPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            reset.check_reset_password(request, link, form.cleaned_data["new_password1"])
        except InvalidInput:
            return _link_not_valid(request)
        logout(request)  # a clean session (the link's token goes with it); nobody is signed in by a reset
        messages.success(request, "Your password is changed. Sign in with it; your authenticator code is still asked for.")
        return redirect("accounts:login")
    return render(request, "accounts/password_reset_new.html", {"form": form}, status=400 if form.errors else 200)


def _link_not_valid(request: HttpRequest) -> HttpResponse:
    request.session.pop(SESSION_RESET_USER, None)
    request.session.pop(SESSION_RESET_TOKEN, None)
    return render(request, "accounts/password_reset_invalid.html", {"message": reset.link_not_valid()}, status=400)
