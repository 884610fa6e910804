"""The privacy officer's queue of rights requests; the amendment panel's actions and records
release links (amend part). Thin: call the service, render."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from confide.core.decorators import route
from confide.core.errors import InvalidInput
from confide.rights import amendments, release, services
from confide.rights.services import ChangedMeanwhile


@route("rights:queue")
def queue(request: HttpRequest) -> HttpResponse:
    requests = services.list_open_requests(actor=request.actor, request=request)
    return render(request, "rights/queue.html", {"requests": requests})


# --- amend part: the amendment panel's actions and records release links -----------------------


def _back(request_id) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("rights:amendment", args=[request_id]))


def _amendment_page(request, request_id, *, status=200, error=""):
    return render(request, "rights/amendment.html", {"req": amendments._request(request.actor.practice_id, request_id), "form_error": error},
                  status=status)  # fmt: skip


def _act(request, request_id, action, done: str):
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
    return _act(request, request_id, lambda: amendments.start_amendment(
        actor=request.actor, request_id=request_id, target=p.get("target"), asked=p.get("asked", ""),
        expected_version=p.get("version"), request=request), "The review has started.")  # fmt: skip


@route("rights:amendment-accept")
def amendment_accept(request: HttpRequest, request_id) -> HttpResponse:
    p = request.POST
    return _act(request, request_id, lambda: amendments.accept_amendment(
        actor=request.actor, request_id=request_id, expected_version=p.get("version"), text=p.get("text", ""),
        named_recipients=p.get("recipients", ""), request=request),
        "The record was amended. The letters to the patient and to the people to tell are ready to send.")  # fmt: skip


@route("rights:amendment-deny")
def amendment_deny(request: HttpRequest, request_id) -> HttpResponse:
    p = request.POST
    return _act(request, request_id, lambda: amendments.deny_amendment(
        actor=request.actor, request_id=request_id, expected_version=p.get("version"), basis=p.get("basis", ""),
        explanation=p.get("explanation", ""), request=request), "The request was denied. The denial letter is ready to send.")  # fmt: skip


@route("rights:amendment-rebuttal")
def amendment_rebuttal(request: HttpRequest, request_id) -> HttpResponse:
    return _act(request, request_id, lambda: amendments.write_rebuttal(
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
