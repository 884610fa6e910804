"""The portal's pages: parse, call a service, render (STYLE.md). Every page that shows a record
acts on the signed-in account's current record (`request.portal.actor`), never on an id taken
from the URL, so there is no id to guess."""

from __future__ import annotations

import base64
import io

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from confide.accounts import portal as portal_identity
from confide.accounts import services as account_services
from confide.accounts.forms import CodeForm, EnrolForm, PortalSignInForm, ReauthForm
from confide.core.decorators import route
from confide.core.errors import InvalidInput
from confide.core.http import local_path
from confide.portal import services


def next_url(request: HttpRequest, default: str = "portal:home") -> str:
    """Where to go after a step: a local /portal/ path only (never a staff page, never off-site)."""
    return local_path(request, request.POST.get("next") or request.GET.get("next"), under="/portal/") or default


class PortalSignInView(LoginView):
    form_class = PortalSignInForm
    template_name = "portal/signin.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.user.is_patient:
            return redirect(next_url(request))
        return super().dispatch(request, *args, **kwargs)

    def get_success_url(self) -> str:
        return next_url(self.request, reverse("portal:home"))


signin = route("portal:signin")(PortalSignInView.as_view())


@route("portal:signout")
def signout(request: HttpRequest) -> HttpResponse:
    # Signing out to open an invitation meant for another address: the invitation waits in the
    # new session (the page it shows needs it), nothing else is kept.
    from confide.accounts.portal_invitations import SESSION_PORTAL_INVITATION

    invitation = request.session.get(SESSION_PORTAL_INVITATION) if request.POST.get("then") == "invitation" else None
    logout(request)
    messages.info(request, "You are signed out.")
    if isinstance(invitation, dict):
        request.session[SESSION_PORTAL_INVITATION] = invitation
        return redirect("portal:invitation-accept")
    return redirect("portal:signin")


@route("portal:mfa-verify")
def mfa_verify(request: HttpRequest) -> HttpResponse:
    pending = account_services.portal_mfa_step_pending(request.user, request.portal)
    if pending is None:
        return redirect(next_url(request))
    if pending == "enrol":
        return redirect("portal:mfa-enrol")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account_services.check_verify_mfa(request, form.cleaned_data["token"])
        except InvalidInput as exc:
            form.add_error("token", str(exc))
        else:
            return redirect(next_url(request))
    context = {"form": form, "next": next_url(request, "")}
    return render(request, "portal/mfa_verify.html", context, status=400 if form.errors else 200)


def _qr_data_uri(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


@route("portal:mfa-enrol")
def mfa_enrol(request: HttpRequest) -> HttpResponse:
    """Add an authenticator app: offered to every patient, required where the practice says so."""
    pending = account_services.portal_mfa_step_pending(request.user, request.portal)
    if pending == "verify":
        return redirect("portal:mfa-verify")
    if account_services.confirmed_totp(request.user):
        return redirect("portal:home")
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = account_services.check_confirm_enrolment(request, form.cleaned_data["token"])
        except account_services.EnrolmentReplaced as exc:
            return render(request, "portal/mfa_enrol.html", {"replaced": str(exc)}, status=400)
        except InvalidInput as exc:
            form.add_error("token", str(exc))
        else:
            return render(request, "portal/recovery_codes.html", {"codes": codes})
    device = account_services.start_totp_enrolment(request)
    if device is None:
        return redirect("portal:mfa-verify")
    uri = device.config_url()
    secret = uri.split("secret=")[1].split("&")[0]
    context = {"form": form, "qr": _qr_data_uri(uri), "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))}
    return render(request, "portal/mfa_enrol.html", context, status=400 if form.errors else 200)


@route("portal:reauth")
def reauth(request: HttpRequest) -> HttpResponse:
    """Confirm it is you before something that cannot be undone lightly (closing the account,
    removing a second factor): the password again, and a code where the account has one."""
    form = ReauthForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account_services.check_reauth(request, form.cleaned_data["password"], form.cleaned_data["token"])
        except InvalidInput as exc:
            form.add_error(None, str(exc))
        else:
            return redirect(next_url(request))
    has_code = account_services.confirmed_totp(request.user) is not None
    context = {"form": form, "next": next_url(request, ""), "has_code": has_code}
    return render(request, "portal/reauth.html", context, status=400 if form.errors else 200)


@route("portal:home")
def home(request: HttpRequest) -> HttpResponse:
    portal = request.portal
    if portal.actor is None:
        return render(request, "portal/no_record.html")
    headers = services.record_headers(user_id=request.user.pk, links=portal.links, request=request)
    context = {
        "portal_section": "home",
        "choices": [(link, headers[str(link.id)]) for link in portal.links],
        "current": headers[str(portal.current.id)],
    }
    return render(request, "portal/home.html", context)


@route("portal:switch")
def switch(request: HttpRequest) -> HttpResponse:
    portal_identity.do_switch_record(request, request.POST.get("link_id", ""))
    return redirect("portal:home")
