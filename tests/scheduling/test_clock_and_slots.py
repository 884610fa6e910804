"""Wall-clock times across DST, and free slots (issue 16 items 1 and 8)."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest

from confide.core.tenancy import tenant_context
from confide.scheduling.clock import AmbiguousTime, NonexistentTime, aware
from confide.scheduling.models import BlockedTime
from confide.scheduling.slots import free_slots
from tests.scheduling.world import at, book_at

NY = zoneinfo.ZoneInfo("America/New_York")


def test_a_time_in_the_spring_forward_gap_is_refused_with_the_reason():
    with pytest.raises(NonexistentTime, match="does not exist: the clocks go forward"):
        aware(datetime.datetime(2027, 3, 14, 2, 30), NY)


def test_a_time_in_the_fall_back_overlap_needs_a_choice():
    with pytest.raises(AmbiguousTime, match="happens twice") as twice:
        aware(datetime.datetime(2027, 11, 7, 1, 30), NY)
    first, second = twice.value.choices
    assert second - first == datetime.timedelta(hours=1)
    assert aware(datetime.datetime(2027, 11, 7, 1, 30), NY, fold=1) == second
    assert aware(datetime.datetime(2027, 11, 7, 9, 0), NY) == datetime.datetime(2027, 11, 7, 14, 0, tzinfo=datetime.UTC)


@pytest.mark.django_db
def test_free_slots_skip_appointments_blocked_time_and_busy_blocks(sw):
    book_at(sw, "2027-03-09 10:40")  # Tuesday
    with tenant_context(practice_id=sw.practice_id):
        BlockedTime.objects.create(practice_id=sw.practice_id, clinician=sw.clinician,
                                   starts_at=at("2027-03-09 13:00"), ends_at=at("2027-03-09 14:00"))  # fmt: skip
        busy = [(at("2027-03-09 15:30"), at("2027-03-09 16:00"))]
        slots = free_slots(sw.clinician.id, 50, datetime.date(2027, 3, 9), 1, busy=busy, now=at("2027-03-01 09:00"))
    starts = [s.starts_at.astimezone(NY).strftime("%H:%M") for s in slots]
    # the 50-minute grid from 9:00: 9:50 ends as 10:40 starts (free), 10:40 booked, 12:20 and 13:10 blocked,
    # 14:50 and 15:40 overlap the busy block, 16:30 would end after 17:00
    assert starts == ["09:00", "09:50", "11:30", "14:00"]


@pytest.mark.django_db
def test_free_slots_keep_wall_clock_hours_across_the_dst_change(sw):
    with tenant_context(practice_id=sw.practice_id):
        slots = free_slots(sw.clinician.id, 60, datetime.date(2027, 3, 12), 4, now=at("2027-03-01 09:00"))
    by_day = {}
    for s in slots:
        local = s.starts_at.astimezone(NY)
        by_day.setdefault(local.date(), []).append(local.hour)
    # Friday and Monday (weekend: no hours); 9:00-16:00 starts both sides of 14 March
    assert by_day == {datetime.date(2027, 3, 12): list(range(9, 17)), datetime.date(2027, 3, 15): list(range(9, 17))}
    assert slots[0].starts_at.utcoffset() == datetime.timedelta(0)
    assert {s.starts_at.astimezone(NY).utcoffset() for s in slots} == {datetime.timedelta(hours=-5), datetime.timedelta(hours=-4)}


@pytest.mark.django_db
def test_nothing_is_offered_in_the_past_or_within_two_hours(sw):
    with tenant_context(practice_id=sw.practice_id):
        slots = free_slots(sw.clinician.id, 60, datetime.date(2027, 3, 9), 1, now=at("2027-03-09 11:30"))
    assert [s.starts_at.astimezone(NY).hour for s in slots] == [14, 15, 16]
