"""The scheduling test world: practice A's clinician with working hours Monday to Friday 9-17
(America/New_York), an appointment type of 50 minutes, an office and telehealth, a patient.

    sw = scheduling_world(world.a)
    appointment = book_at(sw, "2027-03-09 10:00")   # wall-clock time in the practice's zone
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass

from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from tests.portal_world import create_patient

ZONE = zoneinfo.ZoneInfo("America/New_York")


@dataclass
class SchedulingWorld:
    pw: object
    patient: object
    clinician: object  # the clinician's Membership
    front_desk: StaffActor
    kind: object  # AppointmentType, 50 minutes
    office: object
    telehealth: object

    @property
    def practice_id(self):
        return self.pw.practice.id


def scheduling_world(pw, *, zone: str = "America/New_York", **patient_fields) -> SchedulingWorld:
    from confide.scheduling.models import AppointmentType, Location, LocationKind, SchedulingSettings, WorkingHours

    patient = create_patient(pw, **patient_fields)
    clinician = pw.memberships[Role.CLINICIAN]
    with tenant_context(practice_id=pw.practice.id):
        SchedulingSettings.objects.update_or_create(practice=pw.practice, defaults={"time_zone": zone})
        office = Location.objects.create(practice=pw.practice, name="Main office", address="1 Main St")
        telehealth = Location.objects.create(practice=pw.practice, name="Video", kind=LocationKind.TELEHEALTH)
        kind = AppointmentType.objects.create(practice=pw.practice, name="Follow-up", duration_minutes=50, price_cents=12000)
        for weekday in range(5):
            WorkingHours.objects.create(practice=pw.practice, clinician=clinician, weekday=weekday,
                                        starts=datetime.time(9), ends=datetime.time(17), location=office)  # fmt: skip
    return SchedulingWorld(pw, patient, clinician, StaffActor.from_membership(pw.memberships[Role.FRONT_DESK]), kind, office, telehealth)


def at(wall: str, zone=ZONE) -> datetime.datetime:
    """'2027-03-09 10:00' in the practice's zone, as an aware UTC instant."""
    return datetime.datetime.fromisoformat(wall).replace(tzinfo=zone).astimezone(datetime.UTC)


def book_at(sw: SchedulingWorld, wall: str, *, patient=None, minutes: int | None = None, **kwargs):
    from confide.scheduling.services import book

    starts = at(wall)
    ends = starts + datetime.timedelta(minutes=minutes) if minutes else None
    return book(sw.front_desk, patient_id=(patient or sw.patient).id, clinician_id=sw.clinician.id,
                appointment_type_id=sw.kind.id, starts_at=starts, ends_at=ends, location_id=sw.office.id, **kwargs)  # fmt: skip
