"""Online booking: the public pages (/p/<slug>/book/) and the staff review (/booking-requests/).
Thin: parse, call confide/directory/booking.py, render.

The public page works without JavaScript, in three steps on one URL: the kind of appointment and
the clinician (a GET form), a free slot (links, grouped by day), the details (a POST form)."""

from __future__ import annotations

import itertools

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from confide.core.decorators import route
from confide.core.errors import InvalidInput
from confide.core.http import client_ip
from confide.core.public import public_practice_page
from confide.directory import booking
from confide.records import intake
from confide.scheduling.clock import practice_zone
from confide.scheduling.services import SlotTaken

_INPUT_OF = {"guardian": "guardian_name"}
_KEPT_OUT = ("token", "csrfmiddlewaretoken", "website")


def _age(practice):
    from confide.policy.services import declaration_in_force

    return declaration_in_force(practice.id).age


def _choose_page(request, practice, *, error: str = "", status: int = 200, picked=None) -> HttpResponse:
    context = {
        "practice": practice, "types": booking.bookable_types(), "clinicians": booking.bookable_clinicians(),
        "error": error, "picked": picked or {},
    }  # fmt: skip
    return render(request, "directory/book_choose.html", context, status=status)


def _slots_page(request, practice, kind, clinician, *, error: str = "", status: int = 200) -> HttpResponse:
    zone = practice_zone(practice.id)
    slots = booking.offered_slots(practice.id, clinician.id, kind)
    days = []
    for day, group in itertools.groupby(slots, key=lambda s: s.starts_at.astimezone(zone).date()):
        days.append({"day": day, "slots": [{"local": s.starts_at.astimezone(zone), "start": booking.format_start(s.starts_at)} for s in group]})
    context = {"practice": practice, "kind": kind, "clinician": clinician, "days": days, "zone": zone.key, "error": error,
               "days_ahead": booking.BOOKING_DAYS}  # fmt: skip
    return render(request, "directory/book_slots.html", context, status=status)


def _details_page(request, practice, kind, clinician, starts_at, *, values=None, errors=None, error_list=(), error="", status=200):
    zone = practice_zone(practice.id)
    errors = errors or {}
    context = {
        "practice": practice, "kind": kind, "clinician": clinician, "local": starts_at.astimezone(zone), "zone": zone.key,
        "start": booking.format_start(starts_at), "values": values or {}, "errors": {_INPUT_OF.get(k, k): v for k, v in errors.items()},
        "error_list": [(_INPUT_OF.get(k, k), m) for k, m in error_list], "error": error, "token": intake.new_token(practice.id),
        "age": _age(practice), "authorization_text": booking.AUTHORIZATION_TEXT, "reason_max": booking.REASON_MAX,
    }  # fmt: skip
    return render(request, "directory/book_details.html", context, status=status)


@route("directory:book")
@public_practice_page
def book(request: HttpRequest, practice) -> HttpResponse:
    data = request.POST if request.method == "POST" else request.GET
    if request.method == "GET" and (data.get("change") or not (data.get("type") or data.get("clinician") or data.get("start"))):
        return _choose_page(request, practice, picked={"type": data.get("type", ""), "clinician": data.get("clinician", "")})
    try:
        kind, clinician = booking.chosen(data)
    except InvalidInput as exc:
        return _choose_page(request, practice, error=str(exc), status=400, picked={"type": data.get("type", ""), "clinician": data.get("clinician", "")})
    if request.method == "GET":
        if not data.get("start"):
            return _slots_page(request, practice, kind, clinician)
        try:
            slot = booking.check_slot(practice.id, clinician.id, kind, booking.parse_start(data.get("start")))
        except booking.SlotGone as exc:
            return _slots_page(request, practice, kind, clinician, error=str(exc), status=409)
        except InvalidInput as exc:
            return _slots_page(request, practice, kind, clinician, error=str(exc), status=400)
        return _details_page(request, practice, kind, clinician, slot.starts_at)
    try:
        booking.check_submit_booking(practice=practice, data=request.POST, client_ip=client_ip(request), request=request)
    except intake.Honeypot:
        return render(request, "directory/book_received.html", {"practice": practice})
    except intake.AlreadyReceived:
        return render(request, "directory/book_received.html", {"practice": practice, "already": True})
    except booking.SlotGone as exc:
        return _slots_page(request, practice, kind, clinician, error=str(exc), status=409)
    except (booking.TooMany, InvalidInput) as exc:
        values = {k: v for k, v in request.POST.items() if k not in _KEPT_OUT}
        status = 429 if isinstance(exc, booking.TooMany) else 400
        try:
            starts_at = booking.parse_start(request.POST.get("start"))
        except InvalidInput:
            return _slots_page(request, practice, kind, clinician, error=str(exc), status=400)
        if isinstance(exc, intake.FormInvalid):
            return _details_page(request, practice, kind, clinician, starts_at, values=values, errors=exc.by_field, error_list=exc.errors,
                                 status=status)  # fmt: skip
        return _details_page(request, practice, kind, clinician, starts_at, values=values, error=str(exc), status=status)
    return render(request, "directory/book_received.html", {"practice": practice})


@route("directory:booking-requests")
def requests_list(request: HttpRequest) -> HttpResponse:
    rows = booking.list_requests(request.actor, request=request)
    zone = practice_zone()
    return render(request, "directory/booking_requests.html", {"rows": rows, "zone": zone, "zone_name": zone.key})


def _detail(request, request_id, *, status: int = 200, **extra) -> HttpResponse:
    review = booking.review_request(request.actor, request_id, request=request)
    zone = practice_zone()
    context = {"review": review, "local": review.starts_at.astimezone(zone), "zone_name": zone.key, "reasons": booking.DECLINE_REASONS, **extra}
    return render(request, "directory/booking_request.html", context, status=status)


@route("directory:booking-request")
def request_detail(request: HttpRequest, booking_request_id) -> HttpResponse:
    return _detail(request, booking_request_id)


@route("directory:booking-accept")
def accept(request: HttpRequest, booking_request_id) -> HttpResponse:
    merge_into = request.POST.get("merge_into") or None
    try:
        appointment, told = booking.do_accept(actor=request.actor, request_id=booking_request_id, merge_into=merge_into, request=request)
    except booking.AlreadyReviewed as exc:
        messages.error(request, str(exc))
        return redirect("directory:booking-requests")
    except InvalidInput as exc:
        return _detail(request, booking_request_id, status=409 if isinstance(exc, SlotTaken) else 400, accept_error=str(exc))
    note = " The requester was told." if told else " The requester could not be told by message: please call them."
    messages.success(request, "The appointment is booked and the request's own copy of the details was erased." + note)
    try:
        return redirect(reverse("records:chart", kwargs={"patient_id": appointment.patient_id}))
    except Exception:  # noqa: BLE001 - without the chart's page, the list
        return redirect("directory:booking-requests")


@route("directory:booking-decline")
def decline(request: HttpRequest, booking_request_id) -> HttpResponse:
    reason = request.POST.get("reason") or ""
    try:
        told = booking.do_decline(actor=request.actor, request_id=booking_request_id, reason=reason, request=request)
    except booking.AlreadyReviewed as exc:
        messages.error(request, str(exc))
        return redirect("directory:booking-requests")
    except InvalidInput as exc:
        return _detail(request, booking_request_id, status=400, decline_error=str(exc))
    note = " The requester was told by e-mail." if told else " They gave no e-mail address: call them if you should."
    messages.success(request, "The request was declined and erased." + note)
    return redirect("directory:booking-requests")
