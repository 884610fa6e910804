"""The monthly attendance report (issue 16 item 3): per clinician and type, counts and rates, a
CSV with no PHI; a bad month is a 400 with the reason; the calendar's runners only."""

from __future__ import annotations

import datetime

import pytest
import time_machine

from confide.core.permissions import Role
from confide.scheduling import services
from tests.access.conftest import FULL
from tests.conftest import sign_in
from tests.scheduling.world import at, book_at, scheduling_world

pytestmark = pytest.mark.django_db


def _march(sw):
    fd = sw.front_desk
    done = book_at(sw, "2027-03-09 10:00")
    services.set_status(fd, done.pk, "completed", version=done.version)
    missed = book_at(sw, "2027-03-09 12:00")
    services.set_status(fd, missed.pk, "no_show", version=missed.version)
    late = book_at(sw, "2027-03-10 15:00")
    with time_machine.travel(at("2027-03-09 20:00"), tick=False):  # 19 hours before: late (24 h)
        services.cancel(fd, late.pk, version=late.version, reason="patient_request", by_patient=True)
    early = book_at(sw, "2027-03-11 15:00")
    services.cancel(fd, early.pk, version=early.version, reason="patient_request", by_patient=True)  # months ahead
    book_at(sw, "2027-03-31 23:30")  # still March in New York (April in UTC)
    book_at(sw, "2027-04-01 09:00")  # April: not counted


def test_sch1_attendance_counts_per_clinician_and_type(world):
    from confide.scheduling.attendance import attendance

    sw = scheduling_world(world.a)
    _march(sw)
    report = attendance(sw.practice_id, 2027, 3)
    assert len(report.lines) == 1
    line = report.lines[0]
    assert (line.appointment_type, line.appointments, line.completed, line.no_shows, line.late_cancellations) == ("Follow-up", 5, 1, 1, 1)
    assert (line.no_show_rate, line.late_cancellation_rate) == ("20.0%", "20.0%")
    assert line.clinician == world.a.user(Role.CLINICIAN).display_name


def test_sch1_attendance_page_and_csv_carry_counts_only(client, world):
    sw = scheduling_world(world.a)
    _march(sw)
    sign_in(client, world.a.user(Role.FRONT_DESK), world.a.practice)
    page = client.get("/calendar/reports/attendance/?month=2027-03")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Attendance: March 2027" in html and "20.0%" in html
    csv = client.get("/calendar/reports/attendance/?month=2027-03&format=csv")
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().splitlines()
    assert lines[0].startswith("month,clinician,appointment_type,appointments")
    assert lines[1].endswith(",Follow-up,5,1,1,20.0%,1,20.0%")
    patient_values = [str(sw.patient.pk), FULL["given_name"], FULL["family_name"], "555 0142", "5550142", "1984-02-11"]
    for text in (html, csv.content.decode()):
        assert not any(v in text for v in patient_values)  # no patient: counts only


@pytest.mark.parametrize("query", ["month=2027-13", "month=03-2027", "month=x" * 40, "month=2027-03&format=pdf"])
def test_a_bad_month_is_a_400_with_the_reason(client, world, query):
    sign_in(client, world.a.user(Role.FRONT_DESK), world.a.practice)
    page = client.get(f"/calendar/reports/attendance/?{query}")
    assert page.status_code == 400
    assert b"YYYY-MM" in page.content or b"format=csv" in page.content


def test_the_report_is_for_those_who_run_the_calendar(client, world):
    sign_in(client, world.a.user(Role.BILLING), world.a.practice)
    assert client.get("/calendar/reports/attendance/").status_code == 403
