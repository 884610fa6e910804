"""Free slots: a clinician's working hours minus what already holds their time.

What holds time: appointments that hold it (requested, booked, confirmed, …), blocked time, and
any busy intervals the caller passes in (the Google Calendar busy blocks, fetched on view and
never stored: confide/scheduling/google.py). Working hours are wall-clock times in the
practice's zone, so a slot at 9:00 is 9:00 on both sides of a DST change; a wall-clock slot that
does not exist that day (a gap) is skipped, one that happens twice is offered once (the first).

One query for appointments and one for blocked time, whatever the number of days: the search
for 30 days costs the same two round trips as one day (bench/scheduling.py).
"""

from __future__ import annotations

import bisect
import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone

from confide.scheduling.clock import UTC, AmbiguousTime, NonexistentTime, aware, practice_zone
from confide.scheduling.models import HOLDS_TIME, Appointment, BlockedTime, WorkingHours

MAX_DAYS = 92  # a search never spans more than three months
MIN_NOTICE = datetime.timedelta(hours=2)  # nothing is offered that starts sooner than this


@dataclass(frozen=True)
class Slot:
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    clinician_id: object


def _busy_intervals(clinician_id, start, end, extra: Iterable[tuple[datetime.datetime, datetime.datetime]]):
    rows = list(
        Appointment.objects.filter(clinician_id=clinician_id, status__in=HOLDS_TIME, starts_at__lt=end, ends_at__gt=start)
        .values_list("starts_at", "ends_at")
    )
    rows += list(BlockedTime.objects.filter(clinician_id=clinician_id, starts_at__lt=end, ends_at__gt=start).values_list("starts_at", "ends_at"))
    rows += [(s, e) for s, e in extra if s < end and e > start]
    rows.sort()
    # merge, so one bisect per candidate answers "does anything overlap?"
    merged: list[list[datetime.datetime]] = []
    for s, e in rows:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [m[0] for m in merged], [m[1] for m in merged]


def _overlaps(starts: list, ends: list, s: datetime.datetime, e: datetime.datetime) -> bool:
    i = bisect.bisect_left(ends, s)
    # ends[i] is the first busy end >= s; strictly after s means it may overlap
    while i < len(starts) and ends[i] <= s:
        i += 1
    return i < len(starts) and starts[i] < e


def free_slots(
    clinician_id,
    duration_minutes: int,
    first_day: datetime.date,
    days: int,
    *,
    busy: Iterable[tuple[datetime.datetime, datetime.datetime]] = (),
    step_minutes: int | None = None,
    now: datetime.datetime | None = None,
    practice_id=None,
) -> list[Slot]:
    """Start times within the clinician's working hours on `days` days from `first_day` (the
    practice's zone) at which `duration_minutes` fit without overlapping anything busy. Call
    inside the practice's tenant context."""
    days = max(0, min(days, MAX_DAYS))
    zone = practice_zone(practice_id)
    step = datetime.timedelta(minutes=step_minutes or duration_minutes)
    length = datetime.timedelta(minutes=duration_minutes)
    earliest = (now or timezone.now()) + MIN_NOTICE
    hours: dict[int, list[tuple[datetime.time, datetime.time]]] = {}
    for row in WorkingHours.objects.filter(clinician_id=clinician_id).order_by("weekday", "starts"):
        hours.setdefault(row.weekday, []).append((row.starts, row.ends))
    if not hours or not days:
        return []
    window_start = datetime.datetime.combine(first_day, datetime.time.min, tzinfo=zone).astimezone(UTC)
    window_end = datetime.datetime.combine(first_day + datetime.timedelta(days=days + 1), datetime.time.min, tzinfo=zone).astimezone(UTC)
    starts, ends = _busy_intervals(clinician_id, window_start, window_end, busy)
    slots: list[Slot] = []
    for offset in range(days):
        day = first_day + datetime.timedelta(days=offset)
        for opens, closes in hours.get(day.weekday(), ()):
            wall = datetime.datetime.combine(day, opens)
            wall_close = datetime.datetime.combine(day, closes)
            while wall + length <= wall_close:
                try:
                    s = aware(wall, zone)
                except NonexistentTime:
                    wall += step
                    continue
                except AmbiguousTime as twice:
                    s = twice.choices[0]
                e = s + length
                if s >= earliest and not _overlaps(starts, ends, s, e):
                    slots.append(Slot(s, e, clinician_id))
                wall += step
    return slots
