"""The portal's pages: parse, call a service, render (STYLE.md). Every page that shows a record
acts on the signed-in account's current record (`request.portal.actor`), never on an id taken
from the URL, so there is no id to guess."""

from __future__ import annotations

import base64
import io

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from confide.accounts import portal as portal_identity
from confide.accounts import services as account_services
from confide.accounts.forms import CodeForm, EnrolForm, PortalSignInForm, ReauthForm
from confide.accounts.models import RecoveryCodeDevice
from confide.core.decorators import route
from confide.core.errors import InvalidInput
from confide.core.http import local_path
from confide.portal import exports, services
from confide.portal import record as record_service
from confide.portal.models import RecordExport


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
    logout(request)
    messages.info(request, "You are signed out.")
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
    # An account whose only second factor is a passkey has no code to type: the page offers the passkey.
    has_code = account_services.confirmed_totp(request.user) is not None or RecoveryCodeDevice.objects.filter(user=request.user).exists()
    context = {"form": form, "next": next_url(request, ""), "has_code": has_code}
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


# --- My record (RTS1) and its downloads (RTS2) -----------------------------------------------------
def _no_record(request: HttpRequest) -> HttpResponse | None:
    return render(request, "portal/no_record.html") if request.portal.actor is None else None


@route("portal:record")
def record_page(request: HttpRequest) -> HttpResponse:
    if (missing := _no_record(request)) is not None:
        return missing
    return _render_record(request)


def _render_record(request: HttpRequest, status: int = 200) -> HttpResponse:
    actor = request.portal.actor
    context = {
        "portal_section": "record",
        "record": record_service.get_my_record(actor=actor, request=request),
        "exports": exports.list_exports(actor=actor, user=request.user),
        "formats": RecordExport.Format.choices,
        "download_minutes": settings.CONFIDE_PORTAL_DOWNLOAD_MINUTES,
    }
    return render(request, "portal/record.html", context, status=status)


def _streamed(stream, *, content_type: str, size: int, filename: str) -> StreamingHttpResponse:
    """The decrypting stream as the response body, 64 KiB at a time: memory stays flat whatever
    the file's size; the stream is closed when the response is done (or abandoned)."""

    def chunks():
        try:
            while block := stream.read(64 * 1024):
                yield block
        finally:
            stream.close()

    response = StreamingHttpResponse(chunks(), content_type=content_type)
    response["Content-Length"] = str(size)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    # A file is never a page of ours: no scripts, no plugins, no framing, whatever it holds.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@route("portal:record-document")
def record_document(request: HttpRequest, document_id) -> HttpResponse:
    if (missing := _no_record(request)) is not None:
        return missing
    download = record_service.open_my_document(actor=request.portal.actor, document_id=document_id, request=request)
    return _streamed(download.stream, content_type=download.content_type, size=download.size, filename=download.filename)


@route("portal:record-export")
def record_export(request: HttpRequest) -> HttpResponse:
    if (missing := _no_record(request)) is not None:
        return missing
    try:
        export = exports.do_request_export(actor=request.portal.actor, fmt=request.POST.get("format", ""), request=request)
    except InvalidInput as exc:
        messages.error(request, str(exc))
        return _render_record(request, status=400)
    return redirect("portal:record-export-status", export_id=export.pk)


@route("portal:record-export-status")
def record_export_status(request: HttpRequest, export_id) -> HttpResponse:
    """The progress page; htmx asks for its progress part every second until it is done."""
    if (missing := _no_record(request)) is not None:
        return missing
    export = exports.get_export(actor=request.portal.actor, user=request.user, export_id=export_id)
    context = {"portal_section": "record", "export": export, "expired": exports.is_expired(export)}
    if getattr(request, "htmx", False):
        return render(request, "portal/_export_progress.html", context)
    return render(request, "portal/record_export.html", context)


@route("portal:record-export-file")
def record_export_file(request: HttpRequest, export_id) -> HttpResponse:
    if (missing := _no_record(request)) is not None:
        return missing
    try:
        download = exports.open_export_download(actor=request.portal.actor, user=request.user, export_id=export_id, request=request)
    except exports.ExportExpired:
        return render(request, "portal/export_expired.html", {"portal_section": "record"}, status=410)
    return _streamed(download.stream, content_type=download.content_type, size=download.size, filename=download.filename)
