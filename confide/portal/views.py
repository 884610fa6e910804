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
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from confide.accounts import portal as portal_identity
from confide.accounts import services as account_services
from confide.accounts.forms import CodeForm, EnrolForm, PortalSignInForm, ReauthForm
from confide.accounts.models import RecoveryCodeDevice
from confide.core.decorators import route
from confide.core.errors import InvalidInput, NotFound
from confide.core.http import local_path, streamed_file
from confide.policy import acknowledgements
from confide.portal import privacy, services
from confide.portal.forms import RightsRequestForm
from confide.rights import amendments as rights_amendments  # amend part
from confide.rights import services as rights_services
from confide.rights import decisions as rights_decisions  # queue part
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
        # The dashboard: requests in progress, and a material change to the privacy notice not yet
        # acknowledged for this record (POL2). Messages and forms have no source yet: the cards say so.
        "rights_requests": [r for r in rights_services.list_patient_requests(actor=portal.actor) if r.status in ("received", "in_progress")],
        "banners": acknowledgements.banners_for(actor=portal.actor),
    }
    return render(request, "portal/home.html", context)


@route("portal:switch")
def switch(request: HttpRequest) -> HttpResponse:
    portal_identity.do_switch_record(request, request.POST.get("link_id", ""))
    return redirect("portal:home")


# --- the privacy centre (confide/portal/privacy.py) ------------------------------------------------
def _dates(request: HttpRequest):
    """The report's date filter from the query: (Dates, error message or None)."""
    try:
        return privacy.parse_dates(request.GET.get("date_from"), request.GET.get("date_to")), None
    except InvalidInput as exc:
        return privacy.Dates(), str(exc)


def _privacy_page(
    request: HttpRequest, *, status: int = 200, choice_error: str | None = None, rights_form=None, disagreement_error: str = ""
) -> HttpResponse:
    actor = request.portal.actor
    if actor is None:
        return render(request, "portal/no_record.html")
    dates, date_error = _dates(request)
    topics, ledger = privacy.consent_topics(actor)
    context = {
        "portal_section": "privacy",
        "topics": topics,
        "ledger": ledger,
        "no_penalty": privacy.NO_PENALTY,
        "choice_error": choice_error,
        "signals": privacy.browser_signals(request),
        "holdings": privacy.what_we_hold(actor, request=request),
        "dates": dates,
        "date_error": date_error,
        "date_from": request.GET.get("date_from", "")[:10],
        "date_to": request.GET.get("date_to", "")[:10],
        "report": privacy.access_report(actor, dates, request=request),
        "disclosures": privacy.disclosures_of_record(actor, request=request),  # disc part
        "rights_form": rights_form or RightsRequestForm(),
        "rights_requests": (context_requests := rights_services.list_patient_requests(actor=actor)),
        # queue part (issue 17): which decided requests may be appealed, and the letters kept
        "appealable_ids": {r.id for r in context_requests if rights_decisions.appealable(r)},
        "rights_letters": rights_decisions.list_patient_letters(actor=actor),
        "amendments": rights_amendments.patient_amendments(actor=actor),  # amend part
        "disagreement_error": disagreement_error,  # amend part
        "link_id": actor.link_id,
        # part "export": the copy's progress or link, and the fee for a copy shown before filing (RTS10)
        **_rights_export_context(actor),
    }
    return render(request, "portal/privacy.html", context, status=400 if (date_error or choice_error or status == 400) else status)


# amend part: the patient's statement of disagreement with a denied amendment (RTS3, M7).
@route("portal:amendment-disagree")
def amendment_disagree(request: HttpRequest, amendment_id) -> HttpResponse:
    actor = request.portal.actor
    if actor is None:
        return render(request, "portal/no_record.html")
    try:
        rights_amendments.file_disagreement(actor=actor, amendment_id=amendment_id, text=request.POST.get("text", ""),
                                            record=request.POST.get("record", ""), request=request)  # fmt: skip
    except InvalidInput as exc:
        return _privacy_page(request, status=400, disagreement_error=str(exc))
    messages.success(request, "We added your statement of disagreement to your record.")
    return redirect(reverse("portal:privacy") + "#amendments")
def _rights_export_context(actor) -> dict:  # part "export"
    from confide.rights import export as rights_export

    latest = rights_export.latest_export(actor=actor)
    return {"rights_export": latest, "expired": latest is not None and rights_export.is_expired(latest),
            "copy_fee": rights_export.copy_fee_cents(actor.practice_id) / 100}  # fmt: skip


@route("portal:privacy")
def privacy_centre(request: HttpRequest) -> HttpResponse:
    return _privacy_page(request)


@route("portal:privacy-choice")
def privacy_choice(request: HttpRequest) -> HttpResponse:
    actor = request.portal.actor
    if actor is None:
        return render(request, "portal/no_record.html")
    try:
        event = privacy.do_choice(
            actor=actor, link_id=request.POST.get("record"), topic=request.POST.get("topic"), action=request.POST.get("action"),
            digest=request.POST.get("digest"), request=request,
        )  # fmt: skip
    except InvalidInput as exc:
        return _privacy_page(request, choice_error=str(exc))
    messages.success(request, privacy.ledger_text(event) + ".")
    return redirect(reverse("portal:privacy") + "#choices")


def _download_dates(request: HttpRequest):
    dates, error = _dates(request)
    if error:
        return None, render(request, "portal/download_error.html", {"message": error, "portal_section": "privacy"}, status=400)
    return dates, None


@route("portal:access-csv")
def access_csv(request: HttpRequest) -> HttpResponse:
    actor = request.portal.actor
    if actor is None:
        return render(request, "portal/no_record.html", status=404)
    dates, refused = _download_dates(request)
    if refused:
        return refused
    lines = privacy.access_csv_lines(actor, dates, request=request)
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{privacy.download_filename("csv", timezone.localdate())}"'
    response["Cache-Control"] = "no-store"
    return response


@route("portal:access-pdf")
def access_pdf(request: HttpRequest) -> HttpResponse:
    actor = request.portal.actor
    if actor is None:
        return render(request, "portal/no_record.html", status=404)
    dates, refused = _download_dates(request)
    if refused:
        return refused
    pdf = privacy.access_pdf(actor, dates, practice_name=request.portal.practice.name, request=request)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{privacy.download_filename("pdf", timezone.localdate())}"'
    response["Cache-Control"] = "no-store"
    return response


# disc part: the accounting of disclosures of the current record, as a PDF (DSC1).
@route("portal:disclosures-pdf")
def disclosures_pdf(request: HttpRequest) -> HttpResponse:
    actor = request.portal.actor
    if actor is None:
        return render(request, "portal/no_record.html", status=404)
    pdf = privacy.disclosures_pdf(actor, practice_name=request.portal.practice.name, request=request)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="disclosures-{timezone.localdate():%Y-%m-%d}.pdf"'
    response["Cache-Control"] = "no-store"
    return response


@route("portal:rights-request")
def rights_request(request: HttpRequest) -> HttpResponse:
    actor = request.portal.actor
    if actor is None:
        return render(request, "portal/no_record.html")
    form = RightsRequestForm(request.POST)
    if form.is_valid():
        try:
            if str(form.cleaned_data["record"]) != str(actor.link_id):
                raise InvalidInput("This page was for another record. Nothing was sent. Please look again.")
            made = rights_services.check_open_request(
                actor=actor, kind=form.cleaned_data["kind"], detail=form.cleaned_data["detail"], request=request
            )
        except InvalidInput as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"We got your request. We will answer by {made.due_on:%-d %B %Y}.")
            return redirect(reverse("portal:privacy") + "#requests")
    return _privacy_page(request, status=400, rights_form=form)


# --- queue part (issue 17): appealing a decision, reading a letter ---------------------------------
@route("portal:rights-appeal")
def rights_appeal(request: HttpRequest, request_id) -> HttpResponse:
    actor = request.portal.actor
    if actor is None:
        return render(request, "portal/no_record.html")
    try:
        made = rights_decisions.check_file_appeal(actor=actor, appeal_of_id=request_id, state=request.POST.get("state", "")[:2], request=request)
    except NotFound:
        raise Http404("request") from None
    except InvalidInput as exc:
        messages.error(request, str(exc))
        return redirect(reverse("portal:privacy") + "#requests")
    messages.success(request, f"We got your appeal. Someone who did not make the decision will review it by {made.due_on:%-d %B %Y}.")
    return redirect(reverse("portal:privacy") + "#requests")


@route("portal:rights-letter")
def rights_letter(request: HttpRequest, letter_id) -> HttpResponse:
    actor = request.portal.actor
    if actor is None:
        return render(request, "portal/no_record.html", status=404)
    try:
        letter, text = rights_decisions.get_patient_letter(actor=actor, letter_id=letter_id, request=request)
    except NotFound:
        raise Http404("letter") from None
    return render(request, "portal/rights_letter.html", {"letter": letter, "text": text, "portal_section": "privacy"})


# --- end queue part


@route("portal:acknowledge-notice")
def acknowledge_notice(request: HttpRequest) -> HttpResponse:
    actor = request.portal.actor
    if actor is None:
        return render(request, "portal/no_record.html")
    try:
        acknowledgements.do_accept_notice(actor=actor, version_id=request.POST.get("version_id", ""))
    except (NotFound, ValidationError, ValueError):
        messages.error(request, "We could not find that notice. Nothing was recorded.")
        return redirect("portal:home")
    messages.success(request, "Thank you. We noted that you have read the changes.")
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
    return streamed_file(stream, content_type=content_type, size=size, filename=filename)


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


# --- notification settings (MSG6; confide/messaging/preferences.py) -------------------------------
@route("portal:notifications")
def notifications(request: HttpRequest) -> HttpResponse:
    from confide.messaging import preferences
    from confide.messaging.email_views import choices_from_post, preference_rows

    actor = request.portal.actor
    if actor is None:
        return render(request, "portal/no_record.html")
    error, status = None, 200
    if request.method == "POST":
        try:
            preferences.set_preferences(actor, actor.patient_id, choices_from_post(request.POST), request=request)
            messages.success(request, "Your notification settings are saved.")
            return redirect("portal:notifications")
        except InvalidInput as exc:
            error, status = str(exc), 400
    rows = preference_rows(preferences.get_preferences(actor.practice_id, actor.patient_id))
    context = {"portal_section": "notifications", "rows": rows, "error": error}
    return render(request, "messaging/portal_notifications.html", context, status=status)
