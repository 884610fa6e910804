"""The waitlist: entries with codes only, listed through the door once, booked from, closed once,
and a cancelled appointment's page says how many wait for that clinician."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.scheduling import waitlist
from confide.scheduling.models import Appointment, WaitlistEntry
from tests.conftest import sign_in
from tests.scheduling.world import book_at

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(datetime.datetime(2027, 3, 1, 12, tzinfo=datetime.UTC), tick=False):
        yield


def desk(sw):
    return sign_in(Client(), sw.pw.user(Role.FRONT_DESK), sw.pw.practice)


def open_entries(sw):
    with tenant_context(practice_id=sw.practice_id):
        return list(WaitlistEntry.objects.filter(is_open=True))


def test_add_through_the_page_list_names_once_and_audit_codes_only(sw):
    client = desk(sw)
    response = client.post(reverse("scheduling:waitlist"), {"patient": str(sw.patient.id), "clinician": str(sw.clinician.id),
                                                            "appointment_type": str(sw.kind.id), "preference": "mornings"})  # fmt: skip
    assert response.status_code == 302
    (entry,) = open_entries(sw)
    assert entry.preference == "mornings"
    added = AuditEntry.objects.get(practice_id=sw.practice_id, event="scheduling:waitlist:added")
    assert added.detail == {"preference": "mornings", "any_clinician": False}
    before = AuditEntry.objects.filter(practice_id=sw.practice_id, event="records:patients:listed").count()
    page = client.get(reverse("scheduling:waitlist")).content.decode()
    assert "Marisol" in page and "Mornings" in page
    assert AuditEntry.objects.filter(practice_id=sw.practice_id, event="records:patients:listed").count() == before + 1


def test_bad_waitlist_input_is_a_400_without_a_row(sw, world):
    from tests.scheduling.world import scheduling_world

    client = desk(sw)
    other = scheduling_world(world.b)
    for junk in ({"patient": "x"}, {"patient": str(sw.patient.id), "preference": "whenever"}, {"patient": str(other.patient.id)}):
        assert client.post(reverse("scheduling:waitlist"), {"preference": "any", **junk}).status_code == 400, junk
    assert open_entries(sw) == []


def test_booking_from_an_entry_closes_it_once(sw):
    entry = waitlist.add(sw.front_desk, patient_id=sw.patient.id, clinician_id=sw.clinician.id)
    client = desk(sw)
    response = client.post(reverse("scheduling:book"), {
        "patient": str(sw.patient.id), "clinician": str(sw.clinician.id), "appointment_type": str(sw.kind.id),
        "date": "2027-03-09", "time": "10:00", "waitlist": str(entry.pk)})  # fmt: skip
    assert response.status_code == 302 and open_entries(sw) == []
    with tenant_context(practice_id=sw.practice_id):
        assert WaitlistEntry.objects.get().closed_by_appointment_id == Appointment.objects.get().pk
    again = client.post(reverse("scheduling:waitlist-close", kwargs={"entry_id": entry.pk}))
    assert again.status_code == 409
    assert AuditEntry.objects.filter(practice_id=sw.practice_id, event="scheduling:waitlist:closed").count() == 1


def test_a_cancellation_says_how_many_wait_for_that_clinician(sw):
    waitlist.add(sw.front_desk, patient_id=sw.patient.id, clinician_id=sw.clinician.id)
    waitlist.add(sw.front_desk, patient_id=sw.patient.id)  # anyone
    appointment = book_at(sw, "2027-03-09 10:00")
    response = desk(sw).post(reverse("scheduling:appointment-cancel", kwargs={"appointment_id": appointment.pk}),
                             {"version": 1, "reason": "patient_request"}, follow=True)  # fmt: skip
    html = response.content.decode()
    assert "2 people wait for this clinician" in html and 'data-testid="waitlist-hint"' in html
