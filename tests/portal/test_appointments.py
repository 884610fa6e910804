"""The portal's appointments (issue 16 item 8, last sentence): list, book a free slot with the
patient's identity, cancel (late within the practice's window), a representative sees the
minor's, a slot taken meanwhile writes nothing."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from confide.audit.models import AuditEntry
from confide.core.tenancy import tenant_context
from confide.scheduling.models import Appointment, CancelReason, Source, Status
from tests.portal_world import portal_sign_in, portal_world
from tests.scheduling.world import at, book_at, scheduling_world

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2027, 3, 1, 14, tzinfo=datetime.UTC)  # Monday 09:00 in New York


@pytest.fixture
def both(world):
    sw = scheduling_world(world.a)
    with tenant_context(practice_id=sw.practice_id):
        sw.kind.bookable_online = True
        sw.kind.save()
    return sw, portal_world(world.a)


def _rows(sw, patient):
    with tenant_context(practice_id=sw.practice_id):
        return list(Appointment.objects.filter(patient_id=patient.id).order_by("starts_at"))


@time_machine.travel(NOW, tick=False)
def test_the_patient_sees_their_upcoming_and_past_appointments_in_the_practice_zone(both):
    sw, portal = both
    with time_machine.travel(datetime.datetime(2027, 2, 1, 14, tzinfo=datetime.UTC), tick=False):
        book_at(sw, "2027-02-15 10:00", patient=portal.adult.patient)
    book_at(sw, "2027-03-09 10:00", patient=portal.adult.patient)
    book_at(sw, "2027-03-10 10:00")  # someone else's
    client = portal_sign_in(Client(), portal.adult.user)
    page = client.get(reverse("portal:appointments"))
    assert page.status_code == 200
    assert [a.starts_local.strftime("%Y-%m-%d %H:%M") for a in page.context["upcoming"]] == ["2027-03-09 10:00"]
    assert [a.starts_local.strftime("%Y-%m-%d %H:%M") for a in page.context["past"]] == ["2027-02-15 10:00"]
    assert b"Tuesday 9 March 2027, 10:00" in page.content and b"America/New_York" in page.content
    assert b"Follow-up" in page.content and b"10 March" not in page.content
    assert AuditEntry.objects.filter(subject_id=portal.adult.patient.id, event__endswith="opened").exists()  # through the door


@time_machine.travel(NOW, tick=False)
def test_booking_a_free_slot_books_with_source_portal(both):
    sw, portal = both
    client = portal_sign_in(Client(), portal.adult.user)
    page = client.get(reverse("portal:appointments"), {"type": str(sw.kind.id), "clinician": str(sw.clinician.id), "from": "2027-03-02"})
    assert page.status_code == 200
    slots = page.context["slots"]
    assert slots[0].isoformat() == at("2027-03-02 09:00").astimezone(slots[0].tzinfo).isoformat()
    response = client.post(reverse("portal:appointment-book"), {"type": sw.kind.id, "clinician": sw.clinician.id, "starts": slots[1].isoformat()})
    assert response.status_code == 302
    [row] = _rows(sw, portal.adult.patient)
    assert row.starts_at == at("2027-03-02 09:50") and row.status == Status.BOOKED and row.source == Source.PORTAL
    assert row.location_id == sw.office.id and row.created_by_id is None
    entry = AuditEntry.objects.get(event="scheduling:appointment:booked", resource_ids=[str(row.pk)])
    assert entry.actor_kind != "user" or entry.actor_id == str(portal.adult.user.id)


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    ("starts", "message"),
    [("2027-03-02T09:10:00-05:00", b"not offered"), ("2027-03-06T10:00:00-05:00", b"not offered"), ("nonsense", b"Choose a time"),
     ("2027-03-02T09:00:00", b"Choose a time")],
)
def test_a_time_that_is_not_offered_is_refused_and_nothing_is_written(both, starts, message):
    sw, portal = both
    client = portal_sign_in(Client(), portal.adult.user)
    response = client.post(reverse("portal:appointment-book"), {"type": sw.kind.id, "clinician": sw.clinician.id, "starts": starts})
    assert response.status_code == 400 and message in response.content
    assert _rows(sw, portal.adult.patient) == []


@time_machine.travel(NOW, tick=False)
def test_a_type_not_bookable_online_is_refused(both):
    sw, portal = both
    with tenant_context(practice_id=sw.practice_id):
        sw.kind.bookable_online = False
        sw.kind.save()
    client = portal_sign_in(Client(), portal.adult.user)
    response = client.post(reverse("portal:appointment-book"), {"type": sw.kind.id, "clinician": sw.clinician.id, "starts": "2027-03-02T09:00:00-05:00"})
    assert response.status_code == 400 and _rows(sw, portal.adult.patient) == []


@time_machine.travel(NOW, tick=False)
def test_a_slot_taken_meanwhile_is_no_longer_free_and_nothing_is_written(both):
    sw, portal = both
    book_at(sw, "2027-03-02 09:00")  # the front desk books it after the patient's page showed it
    client = portal_sign_in(Client(), portal.adult.user)
    response = client.post(reverse("portal:appointment-book"), {"type": sw.kind.id, "clinician": sw.clinician.id, "starts": "2027-03-02T09:00:00-05:00"})
    assert response.status_code == 409 and b"no longer free" in response.content
    assert _rows(sw, portal.adult.patient) == []


@time_machine.travel(NOW, tick=False)
def test_cancelling_early_is_a_patient_request_and_late_is_marked_late(both):
    sw, portal = both
    early = book_at(sw, "2027-03-09 10:00", patient=portal.adult.patient)
    soon = book_at(sw, "2027-03-02 08:00", patient=portal.adult.patient)  # 23 hours ahead: within 24
    client = portal_sign_in(Client(), portal.adult.user)
    assert client.post(reverse("portal:appointment-cancel"), {"appointment": early.id, "version": early.version}).status_code == 302
    assert client.post(reverse("portal:appointment-cancel"), {"appointment": soon.id, "version": soon.version}).status_code == 302
    rows = {r.pk: r for r in _rows(sw, portal.adult.patient)}
    assert rows[early.pk].status == Status.CANCELLED and rows[early.pk].cancel_reason == CancelReason.PATIENT_REQUEST
    assert rows[soon.pk].cancel_reason == CancelReason.PATIENT_LATE and rows[soon.pk].cancelled_by_patient
    # A stale version and someone else's appointment: refused, nothing changed.
    other = book_at(sw, "2027-03-11 10:00")
    assert client.post(reverse("portal:appointment-cancel"), {"appointment": other.id, "version": other.version}).status_code == 404
    again = book_at(sw, "2027-03-12 10:00", patient=portal.adult.patient)
    assert client.post(reverse("portal:appointment-cancel"), {"appointment": again.id, "version": again.version + 5}).status_code == 400
    with tenant_context(practice_id=sw.practice_id):
        assert Appointment.objects.get(pk=other.pk).status == Status.BOOKED and Appointment.objects.get(pk=again.pk).status == Status.BOOKED


@time_machine.travel(NOW, tick=False)
def test_a_representative_sees_and_books_for_the_minor(both):
    sw, portal = both
    book_at(sw, "2027-03-09 10:00", patient=portal.child)
    client = portal_sign_in(Client(), portal.parent.user)
    own = client.get(reverse("portal:appointments"))
    assert own.context["upcoming"] == []
    client.post(reverse("portal:switch"), {"link_id": str(portal.child_link.id)})
    minor = client.get(reverse("portal:appointments"))
    assert [a.starts_local.strftime("%m-%d %H:%M") for a in minor.context["upcoming"]] == ["03-09 10:00"]
    client.post(reverse("portal:appointment-book"), {"type": sw.kind.id, "clinician": sw.clinician.id, "starts": "2027-03-03T10:40:00-05:00"})
    assert [r.starts_at for r in _rows(sw, portal.child)] == [at("2027-03-03 10:40"), at("2027-03-09 10:00")]
    assert _rows(sw, portal.parent.patient) == []
