"""Sign-in, MFA, re-authentication, own security page, and staff management. Thin: parse, call
a service, render."""

from __future__ import annotations

import base64
import io
import uuid

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from confide.accounts import services
from confide.accounts.forms import CodeForm, EnrolForm, ReauthForm, RoleForm, SignInForm
from confide.accounts.models import RecoveryCodeDevice
from confide.core.decorators import route
from confide.core.http import local_path
from confide.core.errors import InvalidInput
from confide.core.models import Practice


def _next_url(request: HttpRequest, default: str = "core:dashboard") -> str:
    return local_path(request, request.POST.get("next") or request.GET.get("next")) or default


class SignInView(LoginView):
    form_class = SignInForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        # A server with no practice yet: the first-run page (/setup/) is where to begin.
        return super().get_context_data(**kwargs) | {"first_run": not Practice.objects.exists()}

    def get_success_url(self) -> str:
        return f"{reverse('accounts:mfa-verify')}?next={self.get_redirect_url() or reverse('core:dashboard')}"


login = route("accounts:login")(SignInView.as_view())


@route("accounts:logout")
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "You are signed out.")
    return redirect("accounts:login")


@route("accounts:mfa-verify")
def mfa_verify(request: HttpRequest) -> HttpResponse:
    pending = services.mfa_step_pending(request.user, request.memberships)
    if pending is None:
        return redirect(_next_url(request))
    if pending == "enrol":
        return redirect("accounts:mfa-enrol")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.check_verify_mfa(request, form.cleaned_data["token"])
        except InvalidInput as exc:
            form.add_error("token", str(exc))
        else:
            return redirect(_next_url(request))
    return render(request, "accounts/mfa_verify.html", {"form": form, "next": _next_url(request, "")}, status=400 if form.errors else 200)


def _qr_data_uri(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


@route("accounts:mfa-enrol")
def mfa_enrol(request: HttpRequest) -> HttpResponse:
    pending = services.mfa_step_pending(request.user, request.memberships)
    replacing = request.session.get(services.SESSION_PENDING_REPLACE)
    if pending == "verify":
        return redirect("accounts:mfa-verify")
    if pending is None and not replacing and services.confirmed_totp(request.user):
        return redirect("accounts:security")
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = services.check_confirm_enrolment(request, form.cleaned_data["token"])
        except services.EnrolmentReplaced as exc:
            # No new secret in this answer: "Start again" asks for one, which replaces the other
            # session's (two sessions answering each other's posts would never let either finish).
            return render(request, "accounts/mfa_enrol.html", {"replaced": str(exc)}, status=400)
        except InvalidInput as exc:
            form.add_error("token", str(exc))
        else:
            return render(request, "accounts/recovery_codes.html", {"codes": codes, "first_time": True})
    device = services.start_totp_enrolment(request)
    if device is None:  # set up from another sign-in meanwhile: this session verifies with it
        return redirect("accounts:mfa-verify")
    uri = device.config_url()
    secret = uri.split("secret=")[1].split("&")[0]
    context = {"form": form, "qr": _qr_data_uri(uri), "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))}
    return render(request, "accounts/mfa_enrol.html", context, status=400 if form.errors else 200)


@route("accounts:reauth")
def reauth(request: HttpRequest) -> HttpResponse:
    form = ReauthForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.check_reauth(request, form.cleaned_data["password"], form.cleaned_data["token"])
        except InvalidInput as exc:
            form.add_error(None, str(exc))
        else:
            return redirect(_next_url(request))
    return render(request, "accounts/reauth.html", {"form": form, "next": _next_url(request, "")}, status=400 if form.errors else 200)


CONFIRM_PREFIX = "confirm"  # the password and code fields of confirm_in_place, apart from the action's own


def confirm_in_place(request: HttpRequest) -> HttpResponse | None:
    """A POST to an action that needs a fresh password and code, made with a stale confirmation:
    the answer is a page asking for both that posts the action's fields again, unchanged, as hidden
    inputs, to the same address. Confirmed: None (RoutePolicyMiddleware lets the view run on the
    action's fields alone). Otherwise the page, again, with the reason. Nothing of the action is
    done or stored before that; its fields only travel back to the browser that typed them."""
    own = f"{CONFIRM_PREFIX}-"
    form = ReauthForm(request.POST if f"{own}password" in request.POST else None, prefix=CONFIRM_PREFIX)
    if form.is_bound and form.is_valid():
        try:
            services.check_reauth(request, form.cleaned_data["password"], form.cleaned_data["token"])
        except InvalidInput as exc:
            form.add_error(None, str(exc))
        else:
            action = request.POST.copy()
            for name in [name for name in action if name.startswith(own)]:
                del action[name]
            request.POST = action
            return None
    kept = [
        (name, value)
        for name, values in request.POST.lists()
        if name != "csrfmiddlewaretoken" and not name.startswith(own)
        for value in values
    ]
    context = {"form": form, "kept": kept, "action": request.get_full_path()}
    return render(request, "accounts/confirm_in_place.html", context, status=400 if form.errors else 200)


@route("accounts:security")
def security(request: HttpRequest) -> HttpResponse:
    recovery = RecoveryCodeDevice.objects.filter(user=request.user).first()
    events = services.list_own_security_events(request.user)
    context = {
        "totp": services.confirmed_totp(request.user),
        "recovery_remaining": recovery.remaining() if recovery else 0,
        "events": events,
    }
    return render(request, "accounts/security.html", context)


@route("accounts:recovery-codes-regenerate")
def recovery_codes_regenerate(request: HttpRequest) -> HttpResponse:
    codes = services.do_regenerate_recovery_codes(request)
    return render(request, "accounts/recovery_codes.html", {"codes": codes, "first_time": False})


@route("accounts:mfa-replace")
def mfa_replace(request: HttpRequest) -> HttpResponse:
    services.do_replace_authenticator(request)
    return redirect("accounts:mfa-enrol")


@route("accounts:staff-change-role")
def staff_change_role(request: HttpRequest, membership_id: uuid.UUID) -> HttpResponse:
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the listed roles.")
        return redirect("accounts:staff-list")
    try:
        services.check_change_role(actor=request.actor, membership_id=membership_id, role=form.cleaned_data["role"], request=request)
    except InvalidInput as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Role updated.")
    return redirect("accounts:staff-list")


@route("accounts:staff-reset-mfa")
def staff_reset_mfa(request: HttpRequest, membership_id: uuid.UUID) -> HttpResponse:
    try:
        services.check_reset_mfa(actor=request.actor, membership_id=membership_id, request=request)
    except InvalidInput as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "MFA reset. The member was e-mailed and will set up an authenticator at next sign-in.")
    return redirect("accounts:staff-list")


@route("accounts:security-events")
def security_events(request: HttpRequest) -> HttpResponse:
    events = services.list_practice_security_events(request.actor)
    return render(request, "accounts/security_events.html", {"events": events})


def locked_out(request: HttpRequest, credentials=None, *args, **kwargs) -> HttpResponse:
    """django-axes lockout response: a clear page with status 429, nothing else changes."""
    from django.conf import settings

    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    # The portal's sign-in (a patient, or a parent) gets the same pause in the portal's own look.
    template = "portal/locked_out.html" if request.path.startswith("/portal/") else "accounts/locked_out.html"
    return render(request, template, {"minutes": minutes}, status=429)
