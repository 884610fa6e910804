"""Booking, moving, cancelling and marking appointments: the calendar's only write paths.

Double booking is refused by the database, not by a page's good manners:
- PostgreSQL: the exclusion constraint `appointment_no_double_booking` (migration 0001) on
  clinician and the half-open range [starts_at, ends_at) of every appointment that holds time.
  Two transactions racing for one slot: one commits, the other's INSERT/UPDATE fails and is
  reported as `SlotTaken`.
- SQLite: every transaction starts with `BEGIN IMMEDIATE` (settings: transaction_mode), so the
  overlap query below runs under the database's single writer lock and nothing can commit
  between it and the insert.
The query runs on PostgreSQL too, so the usual case gets the same message without an error.

Every change to an existing appointment is a conditional update on its `version`: a page that
read version 3 and posts after someone else moved the appointment gets `ChangedMeanwhile`.
Audit entries carry ids and codes only (AUD1).
"""

from __future__ import annotations

import datetime

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from confide.audit.chain import record
from confide.audit.events import AuditEvent
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.permissions import Perm
from confide.core.tenancy import tenant_context
from confide.scheduling import reminders
from confide.scheduling.models import (
    HOLDS_TIME,
    Appointment,
    AppointmentType,
    CancelReason,
    Location,
    Source,
    Status,
)

CONSTRAINT_NAME = "appointment_no_double_booking"
MAX_AHEAD = datetime.timedelta(days=2 * 365)  # nothing is booked further ahead than this

# Which status may follow which (a cancelled or completed appointment is history).
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.REQUESTED: frozenset({Status.BOOKED, Status.CANCELLED}),
    Status.BOOKED: frozenset({Status.CONFIRMED, Status.ARRIVED, Status.NO_SHOW, Status.CANCELLED, Status.COMPLETED}),
    Status.CONFIRMED: frozenset({Status.BOOKED, Status.ARRIVED, Status.NO_SHOW, Status.CANCELLED, Status.COMPLETED}),
    Status.ARRIVED: frozenset({Status.COMPLETED, Status.BOOKED}),  # BOOKED: undo a mistaken "arrived"
    Status.NO_SHOW: frozenset({Status.BOOKED}),  # undo a mistaken no-show
    Status.COMPLETED: frozenset(),
    Status.CANCELLED: frozenset(),
}


class SlotTaken(InvalidInput):
    """The clinician already has an appointment that overlaps."""


class ChangedMeanwhile(InvalidInput):
    """The appointment changed since the page was read (its version moved on)."""


def audit_actor(actor):
    """A system job (the reminder job) is named in the log by its name."""
    from confide.access.door import SystemActor
    from confide.audit.chain import system_actor

    return system_actor(actor.name) if isinstance(actor, SystemActor) else actor


def _require(actor, perm: Perm) -> None:
    if not actor.has(perm):
        raise Forbidden(perm.value)


def _clinician(clinician_id):
    from confide.accounts.models import Membership
    from confide.core.permissions import Role

    member = Membership.objects.filter(pk=clinician_id, is_active=True).first()
    if member is None:
        raise NotFound("clinician")
    if member.role not in (Role.CLINICIAN, Role.OWNER):
        raise InvalidInput("Appointments are booked with a clinician.")
    return member


def _check_times(starts_at: datetime.datetime, ends_at: datetime.datetime) -> None:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise ValueError("appointment times are aware datetimes")
    if ends_at <= starts_at:
        raise InvalidInput("An appointment ends after it starts.")
    if ends_at - starts_at > datetime.timedelta(hours=12):
        raise InvalidInput("An appointment lasts at most 12 hours.")
    if starts_at > timezone.now() + MAX_AHEAD:
        raise InvalidInput("Appointments can be booked up to two years ahead.")


def overlapping(clinician_id, starts_at, ends_at, *, exclude_id=None):
    """Appointments of the clinician that hold time and overlap [starts_at, ends_at)."""
    rows = Appointment.objects.filter(
        clinician_id=clinician_id, status__in=HOLDS_TIME, starts_at__lt=ends_at, ends_at__gt=starts_at
    )
    return rows.exclude(pk=exclude_id) if exclude_id else rows


def _taken_message() -> str:
    return "That time is no longer free: the clinician already has an appointment then. Choose another time."


def _save_guarded(write) -> None:
    """Run `write` (an INSERT or UPDATE) so that the exclusion constraint's refusal becomes
    SlotTaken without breaking the caller's transaction (a savepoint on PostgreSQL)."""
    try:
        with transaction.atomic():
            write()
    except IntegrityError as error:
        if CONSTRAINT_NAME in str(error):
            raise SlotTaken(_taken_message()) from None
        raise
    except OperationalError as error:
        # PostgreSQL: an insert that waits on another's conflicting row (the exclusion
        # constraint) while that one waits for a lock this transaction already holds (the
        # audit chain head, taken by an entry written earlier in the same transaction, as the
        # portal's booking does) is a deadlock; PostgreSQL aborts one side (SQLSTATE 40P01).
        # Both were after the same time, so the aborted one lost the race: rolled back to the
        # savepoint, its other locks are released with the request's transaction.
        if getattr(error.__cause__, "sqlstate", None) == "40P01":
            raise SlotTaken(_taken_message()) from None
        raise


def book(
    actor,
    *,
    patient_id,
    clinician_id,
    appointment_type_id,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime | None = None,
    location_id=None,
    room_id=None,
    status: str = Status.BOOKED,
    source: str = Source.STAFF,
    series=None,
    occurrence_start=None,
    request=None,
) -> Appointment:
    """Book an appointment; SlotTaken when the clinician is busy then (nothing is written).

    `actor` is a StaffActor with the booking permission, or a system actor passed by a service
    above (the portal's booking, a website request accepted) that checked its own rules."""
    if getattr(actor, "has", None):
        _require(actor, Perm.APPOINTMENTS_BOOK)
    if status not in (Status.REQUESTED, Status.BOOKED, Status.CONFIRMED):
        raise InvalidInput("A new appointment is requested, booked or confirmed.")
    from confide.core.subjects import patient_model

    with tenant_context(practice_id=actor.practice_id, user_id=getattr(actor, "user_id", None)), transaction.atomic():
        if not patient_model().objects.filter(pk=patient_id, is_active=True).exists():
            raise NotFound("patient")
        clinician = _clinician(clinician_id)
        kind = AppointmentType.objects.filter(pk=appointment_type_id, is_active=True).first()
        if kind is None:
            raise NotFound("appointment type")
        if location_id and not Location.objects.filter(pk=location_id, is_active=True).exists():
            raise NotFound("location")
        ends_at = ends_at or starts_at + datetime.timedelta(minutes=kind.duration_minutes)
        _check_times(starts_at, ends_at)
        if overlapping(clinician.pk, starts_at, ends_at).exists():
            raise SlotTaken(_taken_message())
        appointment = Appointment(
            practice_id=actor.practice_id,
            patient_id=patient_id,
            clinician=clinician,
            appointment_type=kind,
            location_id=location_id,
            room_id=room_id,
            starts_at=starts_at,
            ends_at=ends_at,
            status=status,
            source=source,
            series=series,
            occurrence_start=occurrence_start,
            created_by_id=getattr(actor, "membership_id", None),
        )
        _save_guarded(appointment.save)
        reminders.plan(appointment)
        record(
            AuditEvent.APPOINTMENT_BOOKED,
            practice_id=actor.practice_id,
            actor=actor,
            purpose="operations",
            subject_id=patient_id,
            resource_ids=[appointment.pk],
            categories=["scheduling.appointments"],
            detail={"status": status, "source": source},
            request=request,
        )
    return appointment


def _conditional_update(appointment_id, version: int, **changes) -> Appointment:
    """Apply `changes` only if the row still has `version`; the row as written."""
    updated = Appointment.objects.filter(pk=appointment_id, version=version).update(
        version=F("version") + 1, updated_at=timezone.now(), **changes
    )
    if not updated:
        if Appointment.objects.filter(pk=appointment_id).exists():
            raise ChangedMeanwhile("Someone changed this appointment meanwhile. Reload to see it as it is now.")
        raise NotFound("appointment")
    return Appointment.objects.get(pk=appointment_id)


def _load(appointment_id) -> Appointment:
    appointment = Appointment.objects.filter(pk=appointment_id).first()
    if appointment is None:
        raise NotFound("appointment")
    return appointment


def move(
    actor,
    appointment_id,
    *,
    version: int,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime | None = None,
    clinician_id=None,
    request=None,
) -> Appointment:
    """Move (or resize, with `ends_at`; or give to another clinician) an appointment that still
    holds time. SlotTaken / ChangedMeanwhile leave it as it was."""
    _require(actor, Perm.APPOINTMENTS_BOOK)
    with tenant_context(practice_id=actor.practice_id, user_id=actor.user_id), transaction.atomic():
        current = _load(appointment_id)
        if not current.holds_time or current.status in (Status.ARRIVED, Status.COMPLETED):
            raise InvalidInput("Only an upcoming appointment can be moved.")
        clinician = _clinician(clinician_id) if clinician_id else current.clinician
        ends_at = ends_at or starts_at + (current.ends_at - current.starts_at)
        _check_times(starts_at, ends_at)
        if overlapping(clinician.pk, starts_at, ends_at, exclude_id=current.pk).exists():
            raise SlotTaken(_taken_message())
        holder = {}
        _save_guarded(lambda: holder.update(row=_conditional_update(
            appointment_id, version, starts_at=starts_at, ends_at=ends_at, clinician_id=clinician.pk
        )))  # fmt: skip
        moved = holder["row"]
        reminders.plan(moved, replaced=reminders.MOVED)  # unsent reminders follow the new time
        record(
            AuditEvent.APPOINTMENT_CHANGED,
            practice_id=actor.practice_id,
            actor=actor,
            purpose="operations",
            subject_id=moved.patient_id,
            resource_ids=[moved.pk],
            categories=["scheduling.appointments"],
            fields_changed=[f for f, changed in (("starts_at", starts_at != current.starts_at),
                                                 ("ends_at", ends_at != current.ends_at),
                                                 ("clinician", clinician.pk != current.clinician_id)) if changed],
            detail={"change": "moved"},
            request=request,
        )  # fmt: skip
    return moved


def set_status(actor, appointment_id, status: str, *, version: int, request=None) -> Appointment:
    """Confirm, mark arrived / no-show / completed (or undo a mistaken one). Cancelling has its
    own function (it needs a reason). `actor`: staff with the booking permission, or the reminder
    job confirming on the patient's "C" (confide/scheduling/reminders.py)."""
    if getattr(actor, "has", None):
        _require(actor, Perm.APPOINTMENTS_BOOK)
    elif status != Status.CONFIRMED:
        raise Forbidden(Perm.APPOINTMENTS_BOOK.value)
    if status == Status.CANCELLED:
        raise InvalidInput("Cancel with a reason.")
    with tenant_context(practice_id=actor.practice_id, user_id=getattr(actor, "user_id", None)), transaction.atomic():
        current = _load(appointment_id)
        if status not in TRANSITIONS.get(current.status, frozenset()):
            raise InvalidInput(f"A {current.get_status_display().lower()} appointment cannot become {Status(status).label.lower()}.")
        changes = {"status": status}
        if status in HOLDS_TIME and current.status not in HOLDS_TIME:  # undoing a no-show takes the time back
            if overlapping(current.clinician_id, current.starts_at, current.ends_at, exclude_id=current.pk).exists():
                raise SlotTaken(_taken_message())
        holder = {}
        _save_guarded(lambda: holder.update(row=_conditional_update(appointment_id, version, **changes)))
        changed = holder["row"]
        if status not in reminders.REMINDED:  # arrived, no-show, completed: nothing left to remind
            reminders.cancel_planned(changed.pk, f"appointment-{status}")
        elif current.status not in reminders.REMINDED:  # an undone no-show: remind again
            reminders.plan(changed)
        record(
            AuditEvent.APPOINTMENT_CHANGED,
            practice_id=actor.practice_id,
            actor=audit_actor(actor),
            purpose="operations",
            subject_id=changed.patient_id,
            resource_ids=[changed.pk],
            categories=["scheduling.appointments"],
            fields_changed=["status"],
            detail={"change": "status", "from": current.status, "to": status},
            request=request,
        )
    return changed


def cancel(actor, appointment_id, *, version: int, reason: str, by_patient: bool = False, request=None) -> Appointment:
    """Cancel with a reason code; the time is free again at once (the constraint covers only
    appointments that hold time)."""
    if getattr(actor, "has", None):
        _require(actor, Perm.APPOINTMENTS_BOOK)
    if reason not in CancelReason.values:
        raise InvalidInput("Say why the appointment is cancelled.")
    with tenant_context(practice_id=actor.practice_id, user_id=getattr(actor, "user_id", None)), transaction.atomic():
        current = _load(appointment_id)
        if Status.CANCELLED not in TRANSITIONS.get(current.status, frozenset()):
            raise InvalidInput(f"A {current.get_status_display().lower()} appointment cannot be cancelled.")
        cancelled = _conditional_update(
            appointment_id,
            version,
            status=Status.CANCELLED,
            cancel_reason=reason,
            cancelled_by_id=getattr(actor, "membership_id", None),
            cancelled_by_patient=by_patient,
            cancelled_at=timezone.now(),
        )
        reminders.cancel_planned(cancelled.pk, reminders.APPOINTMENT_CANCELLED)
        record(
            AuditEvent.APPOINTMENT_CANCELLED,
            practice_id=actor.practice_id,
            actor=actor,
            purpose="operations",
            subject_id=cancelled.patient_id,
            resource_ids=[cancelled.pk],
            categories=["scheduling.appointments"],
            detail={"reason": reason, "by_patient": by_patient},
            request=request,
        )
    return cancelled
