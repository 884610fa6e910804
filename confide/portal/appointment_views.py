"""The portal's appointments tab (confide/portal/appointments.py): the record's appointments,
booking a free slot, cancelling an upcoming one. Like every portal page it acts on the account's
current record; an appointment id in a form is looked up within that record only."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from confide.core.decorators import route
from confide.core.errors import InvalidInput, NotFound
from confide.portal import appointments
from confide.scheduling.services import SlotTaken


def _first_day(value) -> datetime.date | None:
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise InvalidInput("Choose a date like 2027-03-09.") from None


def _page(request: HttpRequest, *, status: int = 200, error: str = "", chosen: dict | None = None) -> HttpResponse:
    actor = request.portal.actor
    if actor is None:
        return render(request, "portal/no_record.html")
    upcoming, past, zone = appointments.list_mine(actor, request=request)
    chosen = chosen or {}
    slots, kind = [], None
    if not error and chosen.get("type") and chosen.get("clinician"):
        try:
            kind, _, slots = appointments.offered_slots(actor, chosen["type"], chosen["clinician"], _first_day(chosen.get("from")))
        except InvalidInput as exc:
            status, error = 400, str(exc)
    context = {
        "portal_section": "appointments",
        "upcoming": upcoming,
        "past": past,
        "zone": zone,
        "types": appointments.bookable_types(actor),
        "clinicians": appointments.clinicians(actor),
        "chosen": chosen,
        "kind": kind,
        "slots": slots,
        "searched": bool(chosen.get("type") and chosen.get("clinician")) and not error,
        "error": error,
    }
    return render(request, "portal/appointments.html", context, status=status)


@route("portal:appointments")
def appointments_page(request: HttpRequest) -> HttpResponse:
    chosen = {k: str(request.GET.get(k, ""))[:40] for k in ("type", "clinician", "from")}
    return _page(request, chosen=chosen)


@route("portal:appointment-book")
def appointment_book(request: HttpRequest) -> HttpResponse:
    actor = request.portal.actor
    if actor is None:
        return render(request, "portal/no_record.html")
    chosen = {k: str(request.POST.get(k, ""))[:40] for k in ("type", "clinician", "from")}
    try:
        booked = appointments.book_slot(actor, type_id=chosen["type"], clinician_id=chosen["clinician"],
                                        starts=request.POST.get("starts", ""), request=request)  # fmt: skip
    except SlotTaken:
        return _page(request, status=409, error="That time is no longer free: someone booked it a moment ago. Choose another time.", chosen=chosen)
    except InvalidInput as exc:
        return _page(request, status=400, error=str(exc), chosen=chosen)
    messages.success(request, f"Booked: {booked.starts_at.astimezone(appointments.practice_zone(actor.practice_id)):%A %-d %B %Y at %-H:%M}.")
    return redirect("portal:appointments")


@route("portal:appointment-cancel")
def appointment_cancel(request: HttpRequest) -> HttpResponse:
    actor = request.portal.actor
    if actor is None:
        return render(request, "portal/no_record.html")
    try:
        cancelled = appointments.cancel_mine(actor, appointment_id=request.POST.get("appointment", ""),
                                             version=request.POST.get("version", ""), request=request)  # fmt: skip
    except NotFound:
        return _page(request, status=404, error="That appointment is not in this record.")
    except InvalidInput as exc:
        return _page(request, status=400, error=str(exc))
    late = cancelled.cancel_reason == "patient_late"
    messages.success(request, "Your appointment is cancelled." + (" It was within the practice's late-cancellation window, so it is recorded as a late cancellation." if late else ""))
    return redirect("portal:appointments")
