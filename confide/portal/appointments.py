"""The portal's appointments (issue 16 item 8, last sentence): a patient (or a parent acting for
a minor's record) sees the record's appointments, books a free slot with their identity, and
cancels an upcoming one.

Every function acts on the portal actor's current record, never on a patient id from a form:
- reading opens the chart door as the patient actor (the link re-read; one audit entry), for
  the scheduling category only;
- booking is the patient's own request: it offers and accepts only an appointment type the
  practice made bookable online, an active clinician, and a start that is one of that
  clinician's free slots now (working hours minus appointments, blocked time and Google busy
  blocks), then calls `scheduling.services.book` with the patient actor (the service checks
  staff permissions only for staff actors; this module is the rule for patients). A slot
  taken meanwhile is the service's SlotTaken ("no longer free"), nothing written: the database
  decides, not this module's check;
- cancelling within the practice's late_cancel_hours is recorded as late (PATIENT_LATE).
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from django.utils import timezone

from confide.access import policy
from confide.access.door import open_chart
from confide.core.errors import InvalidInput, NotFound
from confide.core.permissions import Role
from confide.core.purposes import Purpose
from confide.core.tenancy import tenant_context
from confide.scheduling import services
from confide.scheduling.clock import practice_zone
from confide.scheduling.google import busy_blocks
from confide.scheduling.models import (
    HOLDS_TIME,
    Appointment,
    AppointmentType,
    CancelReason,
    SchedulingSettings,
    Source,
    Status,
    WorkingHours,
)
from confide.scheduling.slots import free_slots

SEARCH_DAYS = 14


@dataclass(frozen=True)
class MyAppointment:
    id: uuid.UUID
    version: int
    type_name: str
    clinician_name: str
    location_name: str
    starts_local: datetime.datetime
    ends_local: datetime.datetime
    status: str
    status_label: str
    can_cancel: bool
    late_if_cancelled: bool


@dataclass(frozen=True)
class Choice:
    id: uuid.UUID
    label: str


def _late_hours(practice_id) -> int:
    hours = SchedulingSettings.objects.filter(practice_id=practice_id).values_list("late_cancel_hours", flat=True).first()
    return 24 if hours is None else hours


def _clinician_names(practice_id, ids) -> dict:
    from confide.accounts.models import Membership

    return dict(Membership.objects.filter(practice_id=practice_id, pk__in=list(ids)).values_list("pk", "user__display_name"))


def list_mine(actor, *, request=None) -> tuple[list[MyAppointment], list[MyAppointment], str]:
    """(upcoming, past, the practice's zone name) for the actor's current record."""
    now = timezone.now()
    with open_chart(actor, actor.patient_id, Purpose.PATIENT_REQUEST, categories={policy.APPOINTMENTS}, request=request):
        with tenant_context(practice_id=actor.practice_id):
            zone = practice_zone(actor.practice_id)
            late = datetime.timedelta(hours=_late_hours(actor.practice_id))
            rows = list(Appointment.objects.filter(patient_id=actor.patient_id)
                        .select_related("appointment_type", "location").order_by("starts_at"))  # fmt: skip
            names = _clinician_names(actor.practice_id, {r.clinician_id for r in rows})
    upcoming, past = [], []
    for row in rows:
        upcoming_row = row.starts_at > now or (row.ends_at > now and row.status != Status.CANCELLED)
        item = MyAppointment(
            id=row.pk, version=row.version, type_name=row.appointment_type.name,
            clinician_name=names.get(row.clinician_id, "Your clinician"), location_name=row.location.name if row.location_id else "",
            starts_local=row.starts_at.astimezone(zone), ends_local=row.ends_at.astimezone(zone), status=row.status,
            status_label=Status(row.status).label,
            can_cancel=row.starts_at > now and Status.CANCELLED in services.TRANSITIONS.get(row.status, frozenset()),
            late_if_cancelled=row.starts_at - now < late,
        )  # fmt: skip
        (upcoming if upcoming_row else past).append(item)
    past.reverse()  # most recent first
    return upcoming, past, zone.key


def bookable_types(actor) -> list[AppointmentType]:
    with tenant_context(practice_id=actor.practice_id):
        return list(AppointmentType.objects.filter(bookable_online=True, is_active=True).order_by("name"))


def clinicians(actor) -> list[Choice]:
    """Clinicians with working hours: whom a patient can book with."""
    from confide.accounts.models import Membership

    with tenant_context(practice_id=actor.practice_id):
        with_hours = set(WorkingHours.objects.values_list("clinician_id", flat=True))
        rows = (Membership.objects.filter(pk__in=with_hours, is_active=True, role__in=[Role.CLINICIAN, Role.OWNER])
                .values_list("pk", "user__display_name").order_by("user__display_name"))  # fmt: skip
        return [Choice(pk, name) for pk, name in rows]


def _parse_uuid(value, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value or "")[:40])
    except ValueError:
        raise InvalidInput(f"Choose {what}.") from None


def _type(actor, type_id) -> AppointmentType:
    kind = AppointmentType.objects.filter(pk=_parse_uuid(type_id, "a kind of appointment"), bookable_online=True, is_active=True).first()
    if kind is None:
        raise InvalidInput("Choose a kind of appointment from the list.")
    return kind


def _clinician(actor, clinician_id) -> uuid.UUID:
    wanted = _parse_uuid(clinician_id, "a clinician")
    if wanted not in {c.id for c in clinicians(actor)}:
        raise InvalidInput("Choose a clinician from the list.")
    return wanted


def offered_slots(actor, type_id, clinician_id, first_day: datetime.date | None = None, *, days: int = SEARCH_DAYS):
    """The free starts (aware, the practice's zone) for the type's length with the clinician."""
    with tenant_context(practice_id=actor.practice_id):
        kind = _type(actor, type_id)
        clinician_id = _clinician(actor, clinician_id)
        zone = practice_zone(actor.practice_id)
        first_day = first_day or timezone.now().astimezone(zone).date()
        start = datetime.datetime.combine(first_day, datetime.time.min, tzinfo=zone)
        busy = [(b.starts_at, b.ends_at) for b in busy_blocks(clinician_id, start, start + datetime.timedelta(days=days + 1))]
        slots = free_slots(clinician_id, kind.duration_minutes, first_day, days, busy=busy, practice_id=actor.practice_id)
        return kind, clinician_id, [s.starts_at.astimezone(zone) for s in slots]


def _location_for(clinician_id, starts_local: datetime.datetime):
    for row in WorkingHours.objects.filter(clinician_id=clinician_id, weekday=starts_local.weekday()):
        if row.starts <= starts_local.time() < row.ends:
            return row.location_id
    return None


def book_slot(actor, *, type_id, clinician_id, starts: str, request=None) -> Appointment:
    """Book the slot starting at `starts` (ISO 8601 with offset) for the actor's record."""
    try:
        starts_at = datetime.datetime.fromisoformat(str(starts or "")[:40])
    except ValueError:
        raise InvalidInput("Choose a time from the list.") from None
    if starts_at.tzinfo is None:
        raise InvalidInput("Choose a time from the list.")
    with tenant_context(practice_id=actor.practice_id):
        zone = practice_zone(actor.practice_id)
        local = starts_at.astimezone(zone)
        kind, clinician, offered = offered_slots(actor, type_id, clinician_id, local.date(), days=1)
        if local not in offered:
            taken = services.overlapping(clinician, starts_at, starts_at + datetime.timedelta(minutes=kind.duration_minutes)).exists()
            if taken:
                raise services.SlotTaken("That time is no longer free. Choose another time.")
            raise InvalidInput("That time is not offered. Choose a time from the list.")
        location_id = _location_for(clinician, local)
    return services.book(actor, patient_id=actor.patient_id, clinician_id=clinician, appointment_type_id=kind.pk,
                         starts_at=starts_at, location_id=location_id, status=Status.BOOKED, source=Source.PORTAL,
                         request=request)  # fmt: skip


def cancel_mine(actor, *, appointment_id, version, request=None) -> Appointment:
    """Cancel an upcoming appointment of the actor's record; late within late_cancel_hours."""
    appointment_id = _parse_uuid(appointment_id, "an appointment")
    try:
        version = int(str(version or "")[:9])
    except ValueError:
        raise InvalidInput("Reload the page and try again.") from None
    now = timezone.now()
    with tenant_context(practice_id=actor.practice_id):
        row = Appointment.objects.filter(pk=appointment_id, patient_id=actor.patient_id).first()
        if row is None:
            raise NotFound("appointment")
        if row.starts_at <= now or row.status not in HOLDS_TIME:
            raise InvalidInput("Only an upcoming appointment can be cancelled here. Call the practice about this one.")
        late = row.starts_at - now < datetime.timedelta(hours=_late_hours(actor.practice_id))
    reason = CancelReason.PATIENT_LATE if late else CancelReason.PATIENT_REQUEST
    return services.cancel(actor, appointment_id, version=version, reason=reason, by_patient=True, request=request)
