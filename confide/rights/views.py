"""The privacy officer's queue of rights requests, one request's page and its actions, a kept
letter; the amendment panel's actions and records release links (amend part). Thin: parse, call the service, render. A stale form (the request changed since the page
was shown) gets the 409 page; bad input the page again with the message (400)."""

from __future__ import annotations

import functools

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from confide.core.decorators import route
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Perm
from confide.rights import amendments, decisions, release, services
from confide.rights.queue import build_queue
from confide.rights.services import ChangedMeanwhile


def _errors_as_http(view):
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404("not found") from None
        except Forbidden:
            raise PermissionDenied from None

    return wrapped


@route("rights:queue")
def queue(request: HttpRequest) -> HttpResponse:
    requests = services.list_open_requests(actor=request.actor, request=request)
    view = build_queue(
        requests, timezone.localdate(), kind=request.GET.get("kind", "")[:20], status=request.GET.get("status", "")[:20],
        overdue=request.GET.get("overdue") == "1",
    )  # fmt: skip
    return render(request, "rights/queue.html", {"requests": view.rows, "queue": view, "perms_log": request.actor.has(Perm.RIGHTS_REQUEST_LOG)})


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
    return redirect("rights:request", request_id=request_id)


# --- part retention: a deletion request's plan and its execution (confide/rights/deletion.py) ---
@route("rights:deletion")
def deletion(request: HttpRequest, request_id) -> HttpResponse:
    return _deletion_page(request, request_id)


def _deletion_page(request: HttpRequest, request_id, *, error: str = "", status: int = 200) -> HttpResponse:
    from confide.core.permissions import Perm
    from confide.retention.models import HoldReason
    from confide.rights import deletion as service

    page = service.get_deletion_page(actor=request.actor, request_id=request_id, request=request)
    context = {"page": page, "error": error, "can_hold": request.actor.has(Perm.LEGAL_HOLD_SET), "reasons": HoldReason.choices}
    return render(request, "rights/deletion.html", context, status=status)


@route("rights:deletion-execute")
def deletion_execute(request: HttpRequest, request_id) -> HttpResponse:
    from django.contrib import messages
    from django.shortcuts import redirect

    from confide.core.errors import InvalidInput
    from confide.rights import deletion as service
    from confide.rights.services import ChangedMeanwhile

    try:
        service.check_execute_deletion(actor=request.actor, request_id=request_id, expected_version=request.POST.get("version"), request=request)
    except ChangedMeanwhile as exc:
        return _deletion_page(request, request_id, error=str(exc), status=409)
    except InvalidInput as exc:
        return _deletion_page(request, request_id, error=str(exc), status=400)
    messages.success(request, "The deletion was started. This page shows its progress.")
    return redirect("rights:deletion", request_id=request_id)
# --- end part retention


def _page(request: HttpRequest, request_id, *, error: str = "", status: int = 200) -> HttpResponse:
    page = decisions.get_request_page(actor=request.actor, request_id=request_id, request=request)
    return render(request, "rights/request.html", {"page": page, "req": page.row, "error": error}, status=status)


@route("rights:request")
@_errors_as_http
def request_page(request: HttpRequest, request_id) -> HttpResponse:
    return _page(request, request_id)


def _act(request: HttpRequest, request_id, action, done: str) -> HttpResponse:
    try:
        action()
    except services.ChangedMeanwhile as exc:
        return render(request, "rights/changed.html", {"message": str(exc), "request_id": request_id}, status=409)
    except InvalidInput as exc:
        return _page(request, request_id, error=str(exc), status=400)
    messages.success(request, done)
    return redirect("rights:request", request_id=request_id)


@route("rights:request-extend")
@_errors_as_http
def request_extend(request: HttpRequest, request_id) -> HttpResponse:
    post = request.POST
    return _act(request, request_id, lambda: decisions.do_extend(
        actor=request.actor, request_id=request_id, expected_version=post.get("version"), reason=post.get("reason", ""), request=request,
    ), "Extended. The extension notice was sent and kept with the request.")  # fmt: skip


@route("rights:request-close")
@_errors_as_http
def request_close(request: HttpRequest, request_id) -> HttpResponse:
    post = request.POST
    return _act(request, request_id, lambda: decisions.do_close(
        actor=request.actor, request_id=request_id, expected_version=post.get("version"), outcome=post.get("outcome", ""),
        basis=post.get("basis", ""), request=request,
    ), "Closed. The letter was sent and kept with the request.")  # fmt: skip


@route("rights:request-appeal")
@_errors_as_http
def request_appeal(request: HttpRequest, request_id) -> HttpResponse:
    try:
        made = decisions.check_file_appeal(actor=request.actor, appeal_of_id=request_id, state=request.POST.get("state", "")[:2],
                                           request=request)  # fmt: skip
    except InvalidInput as exc:
        return _page(request, request_id, error=str(exc), status=400)
    messages.success(request, f"The appeal is logged. It is due by {made.due_on:%-d %B %Y}.")
    return redirect("rights:request", request_id=made.pk)


@route("rights:letter")
@_errors_as_http
def letter(request: HttpRequest, letter_id) -> HttpResponse:
    kept, text = decisions.get_letter(actor=request.actor, letter_id=letter_id, request=request)
    return render(request, "rights/letter.html", {"letter": kept, "text": text})


# --- amend part: the amendment panel's actions and records release links -----------------------


def _back(request_id) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("rights:amendment", args=[request_id]))


def _amendment_page(request, request_id, *, status=200, error=""):
    return render(request, "rights/amendment.html", {"req": amendments._request(request.actor.practice_id, request_id), "form_error": error},
                  status=status)  # fmt: skip


def _amend_act(request, request_id, action, done: str):
    try:
        action()
    except ChangedMeanwhile as exc:
        return _amendment_page(request, request_id, status=409, error=str(exc))
    except InvalidInput as exc:
        return _amendment_page(request, request_id, status=400, error=str(exc))
    messages.success(request, done)
    return _back(request_id)


@route("rights:amendment")
def amendment(request: HttpRequest, request_id) -> HttpResponse:
    return _amendment_page(request, request_id)


@route("rights:amendment-start")
def amendment_start(request: HttpRequest, request_id) -> HttpResponse:
    p = request.POST
    return _amend_act(request, request_id, lambda: amendments.start_amendment(
        actor=request.actor, request_id=request_id, target=p.get("target"), asked=p.get("asked", ""),
        expected_version=p.get("version"), request=request), "The review has started.")  # fmt: skip


@route("rights:amendment-accept")
def amendment_accept(request: HttpRequest, request_id) -> HttpResponse:
    p = request.POST
    return _amend_act(request, request_id, lambda: amendments.accept_amendment(
        actor=request.actor, request_id=request_id, expected_version=p.get("version"), text=p.get("text", ""),
        named_recipients=p.get("recipients", ""), request=request),
        "The record was amended. The letters to the patient and to the people to tell are ready to send.")  # fmt: skip


@route("rights:amendment-deny")
def amendment_deny(request: HttpRequest, request_id) -> HttpResponse:
    p = request.POST
    return _amend_act(request, request_id, lambda: amendments.deny_amendment(
        actor=request.actor, request_id=request_id, expected_version=p.get("version"), basis=p.get("basis", ""),
        explanation=p.get("explanation", ""), request=request), "The request was denied. The denial letter is ready to send.")  # fmt: skip


@route("rights:amendment-rebuttal")
def amendment_rebuttal(request: HttpRequest, request_id) -> HttpResponse:
    return _amend_act(request, request_id, lambda: amendments.write_rebuttal(
        actor=request.actor, request_id=request_id, text=request.POST.get("text", ""), request=request),
        "The rebuttal is on file. The patient's copy is ready to send.")  # fmt: skip


def _release_page(request, patient_id, *, status=200, error="", token="", values=None):
    links = release.list_releases(actor=request.actor, patient_id=patient_id)
    url = request.build_absolute_uri(reverse("rights:release-open", args=[token])) if token else ""
    return render(request, "rights/release.html", {
        "patient_id": patient_id, "links": links, "error": error, "url": url, "choices": release.RELEASABLE.items(),
        "bases": release.BASES.items(), "values": values or {}, "default_days": release.DEFAULT_DAYS, "max_days": release.MAX_DAYS,
        "now": timezone.now(),
    }, status=status)  # fmt: skip


@route("rights:release-new")
def release_new(request: HttpRequest, patient_id) -> HttpResponse:
    if request.method != "POST":
        return _release_page(request, patient_id)
    p = request.POST
    try:
        _, token = release.create_release(
            actor=request.actor, patient_id=patient_id, recipient=p.get("recipient", ""), recipient_address=p.get("address", ""),
            basis=p.get("basis", ""), categories=p.getlist("categories"), days=p.get("days"), purpose=p.get("purpose", ""),
            request=request,
        )  # fmt: skip
    except InvalidInput as exc:
        return _release_page(request, patient_id, status=400, error=str(exc), values=p)
    return _release_page(request, patient_id, token=token)


@route("rights:release-revoke")
def release_revoke(request: HttpRequest, release_id) -> HttpResponse:
    link = release.revoke_release(actor=request.actor, link_id=release_id, request=request)
    messages.success(request, "The link no longer works.")
    return HttpResponseRedirect(reverse("rights:release-new", args=[link.patient_id]))


@route("rights:release-open")
def release_open(request: HttpRequest, release_token: str) -> HttpResponse:
    try:
        package = release.open_release(release_token, request=request)
    except release.ReleaseGone:
        return render(request, "rights/release_gone.html", status=410)
    except release.TooManyTries:
        return render(request, "rights/release_gone.html", {"too_many": True}, status=429)
    response = render(request, "rights/release_package.html", {"package": package})
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


# --- part "export": the copy panel's actions (templates rights/panels/see.html, copy.html) -------------
def _panel(request: HttpRequest, req, export, *, error: str = "", status: int = 200) -> HttpResponse:
    from confide.rights import export as rights_export

    context = {"req": req, "rights_export": export, "expired": export is not None and rights_export.is_expired(export), "panel_error": error}
    return render(request, "rights/panels/_copy_panel.html", context, status=status)


@route("rights:export-start")
def export_start(request: HttpRequest, request_id) -> HttpResponse:
    """Start the copy for a verified see/copy request (the request page's panel)."""
    from confide.core.errors import InvalidInput
    from confide.rights import export as rights_export

    try:
        export = rights_export.start_export_for_staff(actor=request.actor, request_id=request_id, request=request)
    except InvalidInput as exc:
        req = _request_row(request, request_id)
        return _panel(request, req, rights_export.latest_for_request(req), error=str(exc), status=400)
    return _panel(request, export.request, export)


@route("rights:export-authorize")
def export_authorize(request: HttpRequest, request_id) -> HttpResponse:
    """Record the patient's specific authorization to include psychotherapy notes (or take it back)."""
    from confide.core.errors import InvalidInput
    from confide.rights import export as rights_export

    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = -1
    try:
        req = rights_export.set_psychotherapy_authorization(
            actor=request.actor, request_id=request_id, expected_version=version, authorized=request.POST.get("authorized") == "1",
            request=request,
        )  # fmt: skip
    except services.ChangedMeanwhile as exc:
        req = _request_row(request, request_id)
        return _panel(request, req, rights_export.latest_for_request(req), error=str(exc), status=409)
    except InvalidInput as exc:
        req = _request_row(request, request_id)
        return _panel(request, req, rights_export.latest_for_request(req), error=str(exc), status=400)
    return _panel(request, req, rights_export.latest_for_request(req))


@route("rights:export-status")
def export_status(request: HttpRequest, export_id) -> HttpResponse:
    """The panel's progress part, polled by htmx while the copy is being made."""
    from confide.rights import export as rights_export

    export = rights_export.get_export_for_staff(actor=request.actor, export_id=export_id)
    if not getattr(request, "htmx", False):  # without JavaScript (the Refresh of a page): a whole page
        context = {"req": export.request, "rights_export": export}
        return render(request, "rights/copy_status.html", context)
    return _panel(request, export.request, export)


def _request_row(request: HttpRequest, request_id):
    from confide.core.errors import NotFound
    from confide.core.tenancy import tenant_context
    from confide.rights.models import RightsRequest

    with tenant_context(practice_id=request.actor.practice_id):
        row = RightsRequest.objects.filter(pk=request_id).first()
    if row is None:
        raise NotFound("rights request")
    return row
