"""SCH1 recurrence: RRULEs expanded in wall-clock time across DST, bounded, all-or-nothing, and
the edit scopes (one, this and following, all)."""

from __future__ import annotations

import datetime

import pytest
import time_machine

from confide.core.errors import InvalidInput
from confide.core.tenancy import tenant_context
from confide.scheduling import recurrence
from confide.scheduling.models import Appointment, CancelReason, Series, Status
from tests.portal_world import create_patient
from tests.scheduling.world import ZONE, at, book_at

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2027, 1, 4, 12, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


def series(sw, rule, first="2027-03-02 09:00"):
    return recurrence.book_series(sw.front_desk, patient_id=sw.patient.id, clinician_id=sw.clinician.id,
                                  appointment_type_id=sw.kind.id, first_local=datetime.datetime.fromisoformat(first),
                                  zone=ZONE, rule=rule)  # fmt: skip


def rows(sw, **filters):
    with tenant_context(practice_id=sw.practice_id):
        return list(Appointment.objects.filter(**filters).order_by("starts_at"))


def test_sch1_weekly_series_keeps_nine_oclock_across_the_dst_change(sw):
    _, expansion = series(sw, "FREQ=WEEKLY;COUNT=4")  # 2, 9, 16, 23 March; DST starts 14 March
    local = [a.starts_at.astimezone(ZONE) for a in rows(sw)]
    assert [(d.day, d.hour, d.minute) for d in local] == [(2, 9, 0), (9, 9, 0), (16, 9, 0), (23, 9, 0)]
    assert local[0].utcoffset() != local[-1].utcoffset()
    assert "4 appointments until 23 March 2027" in expansion.summary(ZONE)


def test_sch1_an_occurrence_in_the_gap_is_skipped_and_named():
    expansion = recurrence.expand("FREQ=DAILY;COUNT=3", datetime.datetime(2027, 3, 13, 2, 30), ZONE)
    assert len(expansion.starts) == 2 and expansion.skipped == [datetime.datetime(2027, 3, 14, 2, 30)]
    assert "14 March 2027 02:30" in expansion.summary(ZONE)


@pytest.mark.parametrize("rule", ["FREQ=DAILY", "FREQ=DAILY;COUNT=10000", "FREQ=WEEKLY;UNTIL=20991231T000000Z"])
def test_sch1_a_rule_without_end_or_with_10000_occurrences_is_cut_at_the_bound(rule):
    expansion = recurrence.expand(rule, datetime.datetime(2027, 3, 2, 9), ZONE)
    assert expansion.cut and len(expansion.starts) <= recurrence.MAX_OCCURRENCES
    assert expansion.starts[-1] - expansion.starts[0] <= datetime.timedelta(days=recurrence.HORIZON_DAYS)
    assert "at most 52" in expansion.summary(ZONE)


@pytest.mark.parametrize("rule", ["FREQ=HOURLY;COUNT=5", "FREQ=MINUTELY", "FREQ=SECONDLY", "nonsense", "FREQ=WEEKLY;BYDAY=XX",
                                  "DTSTART:20270101T000000\nRRULE:FREQ=DAILY", ""])  # fmt: skip
def test_sch1_sub_daily_and_malformed_rules_are_refused(rule):
    with pytest.raises(InvalidInput):
        recurrence.clean_rule(rule)


def test_sch1_a_series_is_all_or_nothing_and_lists_the_conflicting_dates(sw):
    other = create_patient(sw.pw, given_name="Other", email="other@example.test")
    book_at(sw, "2027-03-16 09:30", patient=other)
    with pytest.raises(recurrence.SeriesConflict, match="16 March 2027") as refused:
        series(sw, "FREQ=WEEKLY;COUNT=4")
    assert refused.value.dates == [datetime.date(2027, 3, 16)]
    assert len(rows(sw)) == 1
    with tenant_context(practice_id=sw.practice_id):
        assert not Series.objects.exists()


def test_sch1_edit_this_and_following_splits_the_series(sw):
    old, _ = series(sw, "FREQ=WEEKLY;COUNT=4")
    third = rows(sw)[2]
    moved = recurrence.move_following(sw.front_desk, third,
                                      starts_at=third.starts_at + datetime.timedelta(hours=2), scope="following")  # fmt: skip
    assert moved == 2
    local = [(a.starts_at.astimezone(ZONE).day, a.starts_at.astimezone(ZONE).hour) for a in rows(sw)]
    assert local == [(2, 9), (9, 9), (16, 11), (23, 11)]
    with tenant_context(practice_id=sw.practice_id):
        old.refresh_from_db()
        assert "UNTIL=" in old.rrule and "COUNT" not in old.rrule
        assert Series.objects.count() == 2
        assert {a.series_id for a in rows(sw)[2:]} != {old.pk}


def test_sch1_cancel_one_following_or_all(sw):
    series(sw, "FREQ=WEEKLY;COUNT=4")
    first, second = rows(sw)[:2]
    assert recurrence.cancel_following(sw.front_desk, second, reason=CancelReason.PATIENT_REQUEST, scope="following") == 3
    assert [a.status for a in rows(sw)] == [Status.BOOKED] + [Status.CANCELLED] * 3
    assert recurrence.cancel_following(sw.front_desk, first, reason=CancelReason.OTHER, scope="all") == 1
    assert all(a.status == Status.CANCELLED for a in rows(sw))


def test_sch1_the_booking_form_books_a_series_and_says_how_many(sw):
    from django.test import Client
    from django.urls import reverse

    from confide.core.permissions import Role
    from tests.conftest import sign_in

    client = sign_in(Client(), sw.pw.user(Role.FRONT_DESK), sw.pw.practice)
    response = client.post(reverse("scheduling:book"), {
        "patient": str(sw.patient.id), "clinician": str(sw.clinician.id), "appointment_type": str(sw.kind.id),
        "date": "2027-03-02", "time": "09:00", "repeat": "FREQ=WEEKLY", "repeat_count": "10000"}, follow=True)  # fmt: skip
    assert len(rows(sw)) == recurrence.MAX_OCCURRENCES
    assert "52 appointments until" in response.content.decode()
