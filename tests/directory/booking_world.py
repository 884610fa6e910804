"""Booking requests made the way the public page makes them, for tests (part "booking").

    bw = booking_world(world.a)                     # a clinician with hours, a bookable type
    row = request_booking(bw)                       # the first free slot, the canary's details
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils import timezone

from confide.core.tenancy import tenant_context
from confide.directory import booking
from confide.records import intake
from tests.conftest import CANARIES
from tests.scheduling.world import SchedulingWorld, scheduling_world


@dataclass
class BookingWorld:
    sw: SchedulingWorld

    @property
    def practice(self):
        return self.sw.pw.practice

    def slots(self):
        with tenant_context(practice_id=self.practice.id):
            return booking.offered_slots(self.practice.id, self.sw.clinician.id, self.sw.kind)


def open_for_booking(practice, clinician):
    """A practice taking online bookings: an appointment type bookable online (50 minutes) and
    `clinician` (a Membership) working Monday to Friday 9-17, America/New_York. A BookingWorld."""
    from types import SimpleNamespace

    from confide.scheduling.models import AppointmentType, SchedulingSettings, WorkingHours

    with tenant_context(practice_id=practice.id):
        SchedulingSettings.objects.update_or_create(practice=practice, defaults={"time_zone": "America/New_York"})
        kind = AppointmentType.objects.create(practice=practice, name="First session", duration_minutes=50, bookable_online=True)
        for weekday in range(5):
            WorkingHours.objects.create(practice=practice, clinician=clinician, weekday=weekday, starts=datetime.time(9), ends=datetime.time(17))
    return BookingWorld(SimpleNamespace(pw=SimpleNamespace(practice=practice), clinician=clinician, kind=kind))


def booking_world(pw) -> BookingWorld:
    """Made once per practice world (the route matrix asks for it per role)."""
    made = getattr(pw, "_booking_world", None)
    if made is None:
        sw = scheduling_world(pw)
        with tenant_context(practice_id=pw.practice.id):
            type(sw.kind).objects.filter(pk=sw.kind.pk).update(bookable_online=True)
            sw.kind.refresh_from_db()
        made = pw._booking_world = BookingWorld(sw)
    return made


def born(years: int) -> str:
    today = timezone.now().date()
    try:
        return today.replace(year=today.year - years).isoformat()
    except ValueError:  # 29 February
        return (today - datetime.timedelta(days=1)).replace(year=today.year - years).isoformat()


def form_data(bw: BookingWorld, *, slot=None, **overrides) -> dict:
    slot = slot or bw.slots()[0]
    data = {
        "token": intake.new_token(bw.practice.id),
        "type": str(bw.sw.kind.pk),
        "clinician": str(bw.sw.clinician.pk),
        "start": booking.format_start(slot.starts_at),
        "given_name": "Zebulon",
        "family_name": "Canarywood",
        "date_of_birth": CANARIES["dob"],
        "email": CANARIES["email"],
        "phone": CANARIES["phone"],
        "reason": CANARIES["note"],
        "authorize": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def request_booking(bw: BookingWorld, *, client_ip: str = "203.0.113.7", **overrides):
    data = form_data(bw, **overrides)
    with tenant_context(practice_id=bw.practice.id):
        return booking.check_submit_booking(practice=bw.practice, data=data, client_ip=client_ip)


def pending_request(pw):
    """A pending request of the practice (the route matrix's booking_request_id), made once."""
    made = getattr(pw, "_booking_request", None)
    if made is None:
        made = pw._booking_request = request_booking(booking_world(pw))
    return made
