"""SCH1: booking, moving, cancelling and marking appointments; double booking refused."""

from __future__ import annotations

import datetime

import pytest

from confide.audit.models import AuditEntry
from confide.core.errors import Forbidden, InvalidInput, NotFound
from confide.core.actors import StaffActor
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.scheduling import services
from confide.scheduling.models import Appointment, CancelReason, Status
from tests.portal_world import create_patient
from tests.scheduling.world import at, book_at, scheduling_world

pytestmark = pytest.mark.django_db


def count(sw):
    with tenant_context(practice_id=sw.practice_id):
        return Appointment.objects.count()


def test_sch1_booking_writes_the_appointment_and_an_ids_only_audit_entry(sw):
    appointment = book_at(sw, "2027-03-09 10:00")
    assert appointment.ends_at - appointment.starts_at == datetime.timedelta(minutes=50)
    assert appointment.status == Status.BOOKED
    entry = AuditEntry.objects.get(event="scheduling:appointment:booked")
    assert entry.subject_id == sw.patient.id and entry.resource_ids == [str(appointment.pk)]
    assert set(entry.detail) == {"status", "source"}


@pytest.mark.parametrize("wall", ["2027-03-09 10:00", "2027-03-09 10:49", "2027-03-09 09:11"])
def test_sch1_an_overlapping_booking_is_refused_and_writes_nothing(sw, wall):
    book_at(sw, "2027-03-09 10:00")
    other = create_patient(sw.pw, given_name="Other", email="other@example.test")
    with pytest.raises(services.SlotTaken, match="no longer free"):
        book_at(sw, wall, patient=other)
    assert count(sw) == 1


def test_sch1_back_to_back_appointments_do_not_overlap(sw):
    book_at(sw, "2027-03-09 10:00")
    book_at(sw, "2027-03-09 10:50")
    book_at(sw, "2027-03-09 09:10")
    assert count(sw) == 3


def test_sch1_a_cancelled_appointment_frees_its_time(sw):
    first = book_at(sw, "2027-03-09 10:00")
    services.cancel(sw.front_desk, first.pk, version=first.version, reason=CancelReason.PATIENT_REQUEST)
    book_at(sw, "2027-03-09 10:00")
    assert count(sw) == 2


def test_sch1_another_clinician_may_have_the_same_time(sw):
    book_at(sw, "2027-03-09 10:00")
    from confide.scheduling.services import book

    book(sw.front_desk, patient_id=sw.patient.id, clinician_id=sw.pw.memberships[Role.OWNER].id,
         appointment_type_id=sw.kind.id, starts_at=at("2027-03-09 10:00"))  # fmt: skip
    assert count(sw) == 2


def test_moving_checks_the_version_and_the_new_time(sw):
    first = book_at(sw, "2027-03-09 10:00")
    second = book_at(sw, "2027-03-09 11:00")
    moved = services.move(sw.front_desk, first.pk, version=first.version, starts_at=at("2027-03-09 13:00"))
    assert moved.version == first.version + 1 and moved.ends_at == at("2027-03-09 13:50")
    with pytest.raises(services.ChangedMeanwhile):
        services.move(sw.front_desk, first.pk, version=first.version, starts_at=at("2027-03-09 14:00"))
    with pytest.raises(services.SlotTaken):
        services.move(sw.front_desk, moved.pk, version=moved.version, starts_at=at("2027-03-09 11:30"))
    with tenant_context(practice_id=sw.practice_id):
        assert Appointment.objects.get(pk=first.pk).starts_at == at("2027-03-09 13:00")
        assert Appointment.objects.get(pk=second.pk).starts_at == at("2027-03-09 11:00")


def test_resizing_keeps_the_start(sw):
    first = book_at(sw, "2027-03-09 10:00")
    resized = services.move(sw.front_desk, first.pk, version=first.version, starts_at=first.starts_at, ends_at=at("2027-03-09 11:30"))
    assert resized.ends_at == at("2027-03-09 11:30")


def test_status_changes_follow_the_allowed_transitions(sw):
    a = book_at(sw, "2027-03-09 10:00")
    a = services.set_status(sw.front_desk, a.pk, Status.ARRIVED, version=a.version)
    a = services.set_status(sw.front_desk, a.pk, Status.COMPLETED, version=a.version)
    with pytest.raises(InvalidInput, match="cannot"):
        services.set_status(sw.front_desk, a.pk, Status.NO_SHOW, version=a.version)
    with pytest.raises(InvalidInput, match="cannot be cancelled"):
        services.cancel(sw.front_desk, a.pk, version=a.version, reason=CancelReason.OTHER)


def test_undoing_a_no_show_needs_the_time_to_be_free(sw):
    a = book_at(sw, "2027-03-09 10:00")
    a = services.set_status(sw.front_desk, a.pk, Status.NO_SHOW, version=a.version)
    book_at(sw, "2027-03-09 10:00", patient=create_patient(sw.pw, given_name="Next", email="next@example.test"))
    with pytest.raises(services.SlotTaken):
        services.set_status(sw.front_desk, a.pk, Status.BOOKED, version=a.version)


def test_bad_input_is_refused_with_a_reason(sw):
    with pytest.raises(InvalidInput, match="ends after"):
        book_at(sw, "2027-03-09 10:00", minutes=-10)
    with pytest.raises(InvalidInput, match="two years"):
        book_at(sw, "2030-03-09 10:00")
    with pytest.raises(InvalidInput, match="Say why"):
        a = book_at(sw, "2027-03-09 10:00")
        services.cancel(sw.front_desk, a.pk, version=a.version, reason="because")
    with pytest.raises(InvalidInput, match="with a clinician"):
        services.book(sw.front_desk, patient_id=sw.patient.id, clinician_id=sw.pw.memberships[Role.FRONT_DESK].id,
                      appointment_type_id=sw.kind.id, starts_at=at("2027-03-10 10:00"))  # fmt: skip
    assert count(sw) == 1


def test_a_role_without_the_booking_permission_is_refused(sw):
    billing = StaffActor.from_membership(sw.pw.memberships[Role.BILLING])
    with pytest.raises(Forbidden):
        services.book(billing, patient_id=sw.patient.id, clinician_id=sw.clinician.id, appointment_type_id=sw.kind.id,
                      starts_at=at("2027-03-09 10:00"))  # fmt: skip


def test_another_practices_patient_cannot_be_booked(world, sw):
    stranger = create_patient(world.b, given_name="Stranger", email="s@b.example.test")
    with pytest.raises(NotFound):
        book_at(sw, "2027-03-09 10:00", patient=stranger)


@pytest.mark.postgres
def test_sch1_the_database_itself_refuses_an_overlap_on_postgresql(sw):
    """The exclusion constraint, not the service's query: a raw insert of an overlap fails."""
    from django.db import IntegrityError, connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's exclusion constraint")
    first = book_at(sw, "2027-03-09 10:00")
    with tenant_context(practice_id=sw.practice_id), pytest.raises(IntegrityError, match="appointment_no_double_booking"):
        with transaction.atomic():
            Appointment.objects.create(practice_id=sw.practice_id, patient_id=sw.patient.id, clinician_id=sw.clinician.id,
                                       appointment_type_id=sw.kind.id, starts_at=first.starts_at + datetime.timedelta(minutes=5),
                                       ends_at=first.ends_at)  # fmt: skip
