"""The waitlist (issue 16 item 1): who waits for which clinician (or anyone) and type.

An entry names a patient, so it is PHI like an appointment: the page lists names through the
door once; the audit log gets ids and codes. Closing is a conditional update on `is_open`: two
people booking from one entry at once close it once.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from confide.audit.chain import record
from confide.audit.events import AuditEvent
from confide.core.errors import InvalidInput, NotFound
from confide.core.permissions import Perm
from confide.core.tenancy import tenant_context
from confide.scheduling import services
from confide.scheduling.models import AppointmentType, WaitlistEntry, WaitPreference


def add(actor, *, patient_id, clinician_id=None, appointment_type_id=None, preference=WaitPreference.ANY, request=None) -> WaitlistEntry:
    services._require(actor, Perm.APPOINTMENTS_BOOK)
    if preference not in WaitPreference.values:
        raise InvalidInput("Choose a preference from the list.")
    from confide.core.subjects import patient_model

    with tenant_context(practice_id=actor.practice_id, user_id=actor.user_id), transaction.atomic():
        if not patient_model().objects.filter(pk=patient_id, is_active=True).exists():
            raise NotFound("patient")
        if clinician_id:
            services._clinician(clinician_id)
        if appointment_type_id and not AppointmentType.objects.filter(pk=appointment_type_id, is_active=True).exists():
            raise NotFound("appointment type")
        entry = WaitlistEntry.objects.create(
            practice_id=actor.practice_id, patient_id=patient_id, clinician_id=clinician_id or None,
            appointment_type_id=appointment_type_id or None, preference=preference, created_by_id=actor.membership_id,
        )  # fmt: skip
        record(AuditEvent.WAITLIST_ADDED, practice_id=actor.practice_id, actor=actor, purpose="operations", subject_id=patient_id,
               resource_ids=[entry.pk], categories=["scheduling.appointments"],
               detail={"preference": preference, "any_clinician": not clinician_id}, request=request)  # fmt: skip
    return entry


def close(actor, entry_id, *, appointment_id=None, request=None) -> bool:
    """Close an open entry (booked from it, or removed); False when it was closed already."""
    services._require(actor, Perm.APPOINTMENTS_BOOK)
    with tenant_context(practice_id=actor.practice_id, user_id=actor.user_id), transaction.atomic():
        entry = WaitlistEntry.objects.filter(pk=entry_id).first()
        if entry is None:
            raise NotFound("waitlist entry")
        closed = WaitlistEntry.objects.filter(pk=entry_id, is_open=True).update(is_open=False, closed_by_appointment_id=appointment_id)
        if closed:
            record(AuditEvent.WAITLIST_CLOSED, practice_id=actor.practice_id, actor=actor, purpose="operations",
                   subject_id=entry.patient_id, resource_ids=[entry.pk], categories=["scheduling.appointments"],
                   detail={"outcome": "booked" if appointment_id else "removed"}, request=request)  # fmt: skip
    return bool(closed)


def waiting_for(clinician_id) -> int:
    """Open entries that a free time of this clinician could serve (theirs, or "anyone")."""
    return WaitlistEntry.objects.filter(Q(clinician_id=clinician_id) | Q(clinician__isnull=True), is_open=True).count()
