"""SCH1/MIN1/AUD1 through the calendar's pages: booking, moving, resizing, cancelling and marking
through the forms with bad inputs (a DST gap, an overlap, a stale version, another practice's
ids); one door list entry per calendar page; the front desk sees names and times only."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from confide.audit.models import AuditEntry
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.scheduling.models import Appointment, AppointmentType, Location, SchedulingSettings, Status, WorkingHours
from tests.conftest import CANARIES, sign_in
from tests.scheduling.world import at, book_at, scheduling_world

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2027, 3, 1, 12, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


def desk(sw, role=Role.FRONT_DESK):
    return sign_in(Client(), sw.pw.user(role), sw.pw.practice)


def rows(sw, **filters):
    with tenant_context(practice_id=sw.practice_id):
        return list(Appointment.objects.filter(**filters).order_by("starts_at"))


def book_post(sw, client, when="2027-03-09", time="10:00", **extra):
    data = {"patient": str(sw.patient.id), "clinician": str(sw.clinician.id), "appointment_type": str(sw.kind.id),
            "location": str(sw.office.id), "date": when, "time": time, **extra}  # fmt: skip
    return client.post(reverse("scheduling:book"), data)


def listed(sw):
    return AuditEntry.objects.filter(practice_id=sw.practice_id, event="records:patients:listed").count()


def test_sch1_the_front_desk_books_through_the_form_and_the_week_shows_the_name(sw):
    client = desk(sw)
    response = book_post(sw, client)
    assert response.status_code == 302
    (appointment,) = rows(sw)
    assert appointment.starts_at == at("2027-03-09 10:00") and appointment.location_id == sw.office.id
    before = listed(sw)
    page = client.get(reverse("scheduling:calendar"), {"date": "2027-03-09", "clinician": str(sw.clinician.id)})
    html = page.content.decode()
    assert page.status_code == 200 and "10:00–10:50" in html and "Follow-up" in html
    assert "Marisol" in html
    assert listed(sw) == before + 1  # one list entry for the whole page (MIN1, AUD1)


@pytest.mark.parametrize("view", ["week", "day", "month"])
def test_min1_every_calendar_page_opens_the_door_once_with_the_name_only(sw, view):
    from tests.portal_world import create_patient

    for i, wall in enumerate(["2027-03-08 09:00", "2027-03-09 10:00", "2027-03-10 11:00"]):
        book_at(sw, wall, patient=create_patient(sw.pw, given_name=f"Pat{i}", email=f"p{i}@example.test"))
    before = listed(sw)
    page = desk(sw).get(reverse("scheduling:calendar"), {"view": view, "date": "2027-03-09", "clinician": str(sw.clinician.id)})
    assert page.status_code == 200
    entries = list(AuditEntry.objects.filter(practice_id=sw.practice_id, event="records:patients:listed").order_by("-id"))
    assert len(entries) == before + 1
    shown = [1] if view == "day" else [0, 1, 2]  # the day view shows 9 March only
    assert entries[0].categories == ["identifiers.name"] and len(entries[0].resource_ids) == len(shown)
    for i in range(3):
        assert (f"Pat{i}" in page.content.decode()) == (i in shown)


def test_min1_the_front_desk_sees_no_clinical_data_nor_contact_on_the_calendar(sw):
    from tests.portal_world import create_patient

    given, family = CANARIES["name"].split()
    canary = create_patient(sw.pw, given_name=given, family_name=family, preferred_name="", email=CANARIES["email"],
                            phone=CANARIES["phone"], date_of_birth=datetime.date.fromisoformat(CANARIES["dob"]))  # fmt: skip
    appointment = book_at(sw, "2027-03-09 10:00", patient=canary)
    client = desk(sw)
    html = client.get(reverse("scheduling:calendar"), {"date": "2027-03-09"}).content.decode()
    html += client.get(reverse("scheduling:appointment", kwargs={"appointment_id": appointment.pk})).content.decode()
    assert CANARIES["name"] in html  # the name, and nothing else of the chart
    for key in ("email", "phone", "dob", "note"):
        assert CANARIES[key] not in html, key
    assert "Quintero" not in html  # the other patient of the practice is not listed either


def test_sch1_a_time_in_the_dst_gap_is_refused_at_the_field(sw):
    response = book_post(sw, desk(sw), when="2027-03-14", time="02:30")
    assert response.status_code == 400
    assert "does not exist" in response.content.decode() and rows(sw) == []


def test_sch1_a_time_that_happens_twice_asks_which_then_books_the_chosen_one(sw):
    client = desk(sw)
    response = book_post(sw, client, when="2027-11-07", time="01:30")
    assert response.status_code == 400 and "happens twice" in response.content.decode() and rows(sw) == []
    assert book_post(sw, client, when="2027-11-07", time="01:30", fold="1").status_code == 302
    (appointment,) = rows(sw)
    assert appointment.starts_at == datetime.datetime(2027, 11, 7, 6, 30, tzinfo=datetime.UTC)  # EST, the second 1:30


def test_sch1_an_overlap_is_a_409_with_no_longer_free_and_writes_nothing(sw):
    book_at(sw, "2027-03-09 10:00")
    response = book_post(sw, desk(sw), time="10:30")
    assert response.status_code == 409 and "no longer free" in response.content.decode()
    assert len(rows(sw)) == 1


def test_sch1_another_practices_ids_are_refused(sw, world):
    other = scheduling_world(world.b)
    response = book_post(sw, desk(sw), patient=str(other.patient.id))
    assert response.status_code == 400 and rows(sw) == []
    foreign = book_at(other, "2027-03-09 10:00")
    client = desk(sw)
    assert client.get(reverse("scheduling:appointment", kwargs={"appointment_id": foreign.pk})).status_code == 404
    moved = client.post(reverse("scheduling:appointment-move", kwargs={"appointment_id": foreign.pk}),
                        {"version": 1, "date": "2027-03-10", "time": "10:00", "minutes": 50, "clinician": str(other.clinician.id)})  # fmt: skip
    assert moved.status_code == 404
    assert rows(other)[0].starts_at == at("2027-03-09 10:00")


def move(client, appointment, **data):
    fields = {"version": appointment.version, "date": "2027-03-10", "time": "11:00", "minutes": 50,
              "clinician": str(appointment.clinician_id), "scope": "one", **data}  # fmt: skip
    return client.post(reverse("scheduling:appointment-move", kwargs={"appointment_id": appointment.pk}), fields)


def test_sch1_move_and_resize_through_the_form_and_a_stale_version_is_a_409(sw):
    appointment = book_at(sw, "2027-03-09 10:00")
    client = desk(sw)
    assert move(client, appointment).status_code == 302
    (moved,) = rows(sw)
    assert (moved.starts_at, moved.ends_at) == (at("2027-03-10 11:00"), at("2027-03-10 11:50")) and moved.version == 2
    stale = move(client, appointment, time="14:00")  # the page read version 1
    assert stale.status_code == 409 and "changed this appointment meanwhile" in stale.content.decode()
    assert rows(sw)[0].starts_at == at("2027-03-10 11:00")
    assert move(client, moved, minutes=80).status_code == 302  # resize: only the end moves
    assert rows(sw)[0].ends_at == at("2027-03-10 12:20")


def test_sch1_a_drag_gets_json_and_an_overlap_is_a_409(sw):
    from tests.portal_world import create_patient

    first = book_at(sw, "2027-03-09 10:00")
    book_at(sw, "2027-03-09 12:00", patient=create_patient(sw.pw, given_name="Other", email="o@example.test"))
    response = desk(sw).post(reverse("scheduling:appointment-move", kwargs={"appointment_id": first.pk}),
                             {"version": 1, "date": "2027-03-09", "time": "11:45", "minutes": 50, "clinician": str(sw.clinician.id)},
                             HTTP_ACCEPT="application/json")  # fmt: skip
    assert response.status_code == 409 and "no longer free" in response.json()["message"]
    assert rows(sw)[0].starts_at == at("2027-03-09 10:00")


def test_sch1_junk_move_input_is_a_400_without_a_write(sw):
    appointment = book_at(sw, "2027-03-09 10:00")
    client = desk(sw)
    for junk in ({"version": "x"}, {"date": "soon"}, {"minutes": 100000}, {"clinician": "nobody"}, {"time": "25:00"}):
        assert move(client, appointment, **junk).status_code == 400, junk
    assert rows(sw)[0].version == 1


def test_sch1_cancel_needs_a_reason_and_status_buttons_follow_the_rules(sw):
    appointment = book_at(sw, "2027-03-09 10:00")
    client = desk(sw)
    url = reverse("scheduling:appointment-cancel", kwargs={"appointment_id": appointment.pk})
    assert client.post(url, {"version": 1}).status_code == 400
    status_url = reverse("scheduling:appointment-status", kwargs={"appointment_id": appointment.pk})
    assert client.post(status_url, {"version": 1, "status": "arrived"}).status_code == 302
    assert client.post(status_url, {"version": 1, "status": "completed"}).status_code == 409  # stale
    assert client.post(status_url, {"version": 2, "status": "no_show"}).status_code == 400  # arrived cannot become no-show
    assert rows(sw)[0].status == Status.ARRIVED
    other = book_at(sw, "2027-03-11 10:00")
    assert client.post(reverse("scheduling:appointment-cancel", kwargs={"appointment_id": other.pk}),
                       {"version": 1, "reason": "patient_request"}).status_code == 302  # fmt: skip
    assert rows(sw, pk=other.pk)[0].status == Status.CANCELLED


def test_today_list_and_agenda(sw):
    with time_machine.travel(datetime.datetime(2027, 3, 9, 12, tzinfo=datetime.UTC), tick=False):
        book_at(sw, "2027-03-09 15:00")
        book_at(sw, "2027-03-12 09:00")
        today = desk(sw).get(reverse("scheduling:today")).content.decode()
        assert "15:00–15:50" in today and "Arrived" in today and "Marisol" in today
        agenda = desk(sw, Role.CLINICIAN).get(reverse("scheduling:agenda")).content.decode()
        assert "15:00–15:50" in agenda and "09:00–09:50" in agenda and "Friday 12 March" in agenda


def test_google_busy_blocks_are_drawn_with_their_title_or_busy(sw, monkeypatch):
    from confide.scheduling import google, views

    def fake(clinician_id, start, end, *, viewer_id=None):
        return [google.BusyBlock(at("2027-03-09 13:00"), at("2027-03-09 14:00"), "Dentist"),
                google.BusyBlock(at("2027-03-10 13:00"), at("2027-03-10 14:00"), "")]  # fmt: skip

    monkeypatch.setattr(views, "busy_blocks", fake)
    html = desk(sw).get(reverse("scheduling:calendar"), {"date": "2027-03-09", "clinician": str(sw.clinician.id)}).content.decode()
    assert "Dentist" in html and html.count('data-testid="busy-block"') == 2 and "Busy" in html


def test_settings_screens_add_zone_location_type_and_hours(sw):
    client = desk(sw)
    url = reverse("scheduling:settings")
    assert client.post(url, {"form": "zone", "time_zone": "Europe/Berlin"}).status_code == 302
    assert client.post(url, {"form": "zone", "time_zone": "Mars/Olympus"}).status_code == 400
    assert client.post(url, {"form": "location", "name": "Annex", "kind": "in_person", "rooms": "A, B"}).status_code == 302
    assert client.post(url, {"form": "type", "name": "Intake", "duration_minutes": 80, "colour": "#aa0000", "reminder_hours": "48, 2"}).status_code == 302
    assert client.post(url, {"form": "type", "name": "Bad", "duration_minutes": 80, "colour": "red"}).status_code == 400
    bad_hours = client.post(url, {"form": "hours", "clinician": str(sw.clinician.id), "weekday": 5, "starts": "12:00", "ends": "09:00"})
    assert bad_hours.status_code == 400 and "after the start" in bad_hours.content.decode()
    assert client.post(url, {"form": "hours", "clinician": str(sw.clinician.id), "weekday": 5, "starts": "09:00", "ends": "12:00"}).status_code == 302
    with tenant_context(practice_id=sw.practice_id):
        assert SchedulingSettings.objects.get().time_zone == "Europe/Berlin"
        assert Location.objects.get(name="Annex").rooms.count() == 2
        assert AppointmentType.objects.get(name="Intake").reminder_offsets == [2880, 120]
        assert WorkingHours.objects.filter(weekday=5).count() == 1
    assert "Annex" in client.get(url).content.decode()
