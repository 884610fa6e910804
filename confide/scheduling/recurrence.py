"""Recurring appointments (issue 16 item 1): RFC 5545 RRULEs, bounded, wall-clock preserving.

- A series repeats at a wall-clock time in the practice's zone: the rule is expanded as naive
  wall times (dateutil's `rrulestr` with a naive DTSTART) and each one becomes an instant with
  `clock.aware`, so "Tuesdays 9:00" stays 9:00 after the clocks change. An occurrence in a
  spring-forward gap is skipped and named; one that happens twice takes the first.
- Sub-daily rules (HOURLY, MINUTELY, SECONDLY) are refused: a therapy series is not hourly.
- Every expansion is bounded: at most MAX_OCCURRENCES occurrences and HORIZON_DAYS days from the
  first. A rule that never ends, or asks for 10,000, is cut there and the person is told how
  many were booked and until when (`Expansion.cut`).
- `Series.first_start_local` holds the wall-clock digits of the first occurrence tagged UTC (the
  column is a DateTimeField; the zone that gives them meaning is `Series.time_zone`).
- Booking a series is all-or-nothing (`book_series`): if any occurrence overlaps something, no
  row is written and the conflicting dates are listed.
- Editing: one occurrence (the Appointment alone), this and following (`split`: the old series
  gets an UNTIL before this one, a new series from this one), all (`cancel_series`, or move
  each upcoming occurrence by the same shift).
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from dataclasses import dataclass, field

from dateutil.rrule import rrulestr
from django.db import transaction
from django.utils import timezone

from confide.audit.chain import record
from confide.audit.events import AuditEvent
from confide.core.errors import InvalidInput
from confide.core.permissions import Perm
from confide.core.tenancy import tenant_context
from confide.scheduling import services
from confide.scheduling.clock import AmbiguousTime, NonexistentTime, aware
from confide.scheduling.models import HOLDS_TIME, Appointment, AppointmentType, Series, Source, Status

MAX_OCCURRENCES = 52
HORIZON_DAYS = 366
SUB_DAILY = re.compile(r"FREQ\s*=\s*(HOURLY|MINUTELY|SECONDLY)", re.IGNORECASE)
RULE_CHARS = re.compile(r"^[A-Z0-9=;,:+\-]+$")

# The repeat choices a booking form offers (label, RRULE without COUNT/UNTIL).
REPEAT_CHOICES = [
    ("", "Does not repeat"),
    ("FREQ=WEEKLY", "Every week"),
    ("FREQ=WEEKLY;INTERVAL=2", "Every two weeks"),
    ("FREQ=MONTHLY", "Every month (same date)"),
]


class SeriesConflict(InvalidInput):
    """Some occurrences overlap other appointments: nothing was booked."""

    def __init__(self, message: str, dates: list[datetime.date]):
        super().__init__(message)
        self.dates = dates


@dataclass
class Expansion:
    starts: list[datetime.datetime]  # aware UTC instants, in order
    skipped: list[datetime.datetime] = field(default_factory=list)  # naive wall times in a gap
    cut: bool = False  # the rule asked for more than the bound

    def summary(self, zone) -> str:
        if not self.starts:
            return "No occurrence could be booked."
        last = self.starts[-1].astimezone(zone)
        text = f"{len(self.starts)} appointment{'s' if len(self.starts) != 1 else ''} until {last:%-d %B %Y}"
        if self.cut:
            text += f" (a series is booked at most {MAX_OCCURRENCES} times and {HORIZON_DAYS} days ahead; book more later)"
        if self.skipped:
            text += ". Skipped, the clock jumps over that hour: " + ", ".join(f"{d:%-d %B %Y %H:%M}" for d in self.skipped)
        return text + "."


def clean_rule(rule: str) -> str:
    """The RRULE as stored (upper case, no `RRULE:` prefix), or InvalidInput with the reason."""
    rule = (rule or "").strip().upper()
    if rule.startswith("RRULE:"):
        rule = rule[6:]
    if not rule or len(rule) > 500 or not RULE_CHARS.match(rule) or "FREQ=" not in rule:
        raise InvalidInput("A repeat rule looks like FREQ=WEEKLY;COUNT=10.")
    if "DTSTART" in rule:
        raise InvalidInput("The repeat rule starts at the appointment's own date and time.")
    if SUB_DAILY.search(rule):
        raise InvalidInput("An appointment repeats at most once a day.")
    try:
        rrulestr(_wall_until(rule, datetime.UTC), dtstart=datetime.datetime(2027, 1, 1, 9))
    except (ValueError, TypeError):
        raise InvalidInput("That repeat rule is not valid (RFC 5545, e.g. FREQ=WEEKLY;BYDAY=TU;COUNT=10).") from None
    return rule


UNTIL_UTC = re.compile(r"UNTIL=(\d{8}T\d{6})Z")


def _wall_until(rule: str, zone) -> str:
    """RFC 5545 writes UNTIL in UTC; the rule is expanded in naive wall time, so UNTIL becomes
    the same instant as a wall time in `zone` (dateutil refuses to mix the two)."""

    def local(match):
        try:
            instant = datetime.datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=datetime.UTC)
        except ValueError:
            raise InvalidInput("The repeat rule's end date (UNTIL) is not a date.") from None
        return f"UNTIL={instant.astimezone(zone):%Y%m%dT%H%M%S}"

    return UNTIL_UTC.sub(local, rule)


def expand(rule: str, first_local: datetime.datetime, zone) -> Expansion:
    """The occurrences of `rule` from naive wall time `first_local` in `zone`, bounded."""
    rule = clean_rule(rule)
    parsed = rrulestr(_wall_until(rule, zone), dtstart=first_local)
    horizon = first_local + datetime.timedelta(days=HORIZON_DAYS)
    result = Expansion(starts=[])
    seen = 0
    for wall in parsed:  # lazily: a rule without an end is never materialised
        if wall > horizon or seen >= MAX_OCCURRENCES:
            result.cut = True
            break
        seen += 1
        try:
            result.starts.append(aware(wall, zone))
        except NonexistentTime:
            result.skipped.append(wall)
        except AmbiguousTime as twice:
            result.starts.append(twice.choices[0])
    return result


def book_series(actor, *, patient_id, clinician_id, appointment_type_id, first_local: datetime.datetime, zone, rule: str,
                location_id=None, request=None) -> tuple[Series, Expansion]:  # fmt: skip
    """Book every occurrence or none; SeriesConflict lists the dates that overlap."""
    if not actor.has(Perm.APPOINTMENTS_BOOK):
        services._require(actor, Perm.APPOINTMENTS_BOOK)
    expansion = expand(rule, first_local, zone)
    if not expansion.starts:
        raise InvalidInput("That rule gives no occurrence that can be booked.")
    with tenant_context(practice_id=actor.practice_id, user_id=actor.user_id), transaction.atomic():
        kind = AppointmentType.objects.filter(pk=appointment_type_id, is_active=True).first()
        if kind is None:
            raise InvalidInput("Choose an appointment type.")
        length = datetime.timedelta(minutes=kind.duration_minutes)
        conflicts = [s for s in expansion.starts if services.overlapping(clinician_id, s, s + length).exists()]
        if conflicts:
            raise _conflict(conflicts, zone)
        series = Series.objects.create(
            practice_id=actor.practice_id, patient_id=patient_id, clinician_id=clinician_id, appointment_type=kind,
            location_id=location_id, rrule=clean_rule(rule), first_start_local=first_local.replace(tzinfo=datetime.UTC), time_zone=zone.key,
            created_by_id=actor.membership_id,
        )  # fmt: skip
        try:
            for starts in expansion.starts:
                services.book(actor, patient_id=patient_id, clinician_id=clinician_id, appointment_type_id=kind.pk,
                              starts_at=starts, location_id=location_id, source=Source.SERIES, series=series,
                              occurrence_start=starts, request=request)  # fmt: skip
        except services.SlotTaken:
            # Taken between the check and the insert (a race): the transaction rolls back whole.
            raise _conflict([], zone) from None
    return series, expansion


def _conflict(conflicts, zone) -> SeriesConflict:
    dates = [c.astimezone(zone).date() for c in conflicts]
    listed = ", ".join(f"{d:%-d %B %Y}" for d in dates[:10]) + (" …" if len(dates) > 10 else "")
    return SeriesConflict(
        "Nothing was booked: the clinician is not free on " + (listed or "one of those dates") + ". Choose another time or rule.",
        dates,
    )


def _upcoming(series_id, from_start):
    return Appointment.objects.filter(series_id=series_id, starts_at__gte=from_start, status__in=HOLDS_TIME).exclude(
        status__in=(Status.ARRIVED, Status.COMPLETED)
    )


def cancel_following(actor, appointment: Appointment, *, reason: str, scope: str, request=None) -> int:
    """Cancel this occurrence and the following ones (`scope` "following") or every upcoming
    one of the series ("all"); the series' rule gets an UNTIL so it does not come back. The
    number cancelled."""
    services._require(actor, Perm.APPOINTMENTS_BOOK)
    if scope not in ("following", "all"):
        raise InvalidInput("Choose which appointments of the series.")
    with tenant_context(practice_id=actor.practice_id, user_id=actor.user_id), transaction.atomic():
        series = Series.objects.select_for_update().filter(pk=appointment.series_id).first()
        if series is None:
            raise InvalidInput("This appointment is not part of a series.")
        start = appointment.starts_at if scope == "following" else timezone.now()
        rows = list(_upcoming(series.pk, start).order_by("starts_at"))
        for row in rows:
            services.cancel(actor, row.pk, version=row.version, reason=reason, request=request)
        _end_rule_before(series, appointment.starts_at if scope == "following" else start)
        series.save(update_fields=["rrule", "updated_at"])
        record(AuditEvent.APPOINTMENT_CHANGED, practice_id=actor.practice_id, actor=actor, purpose="operations",
               subject_id=series.patient_id, resource_ids=[series.pk], categories=["scheduling.appointments"],
               detail={"change": "series_ended", "scope": scope, "count": len(rows)}, request=request)  # fmt: skip
    return len(rows)


def _end_rule_before(series: Series, instant: datetime.datetime) -> None:
    """Give the series' RRULE an UNTIL just before `instant` (RFC 5545: UTC form)."""
    parts = [p for p in series.rrule.split(";") if not p.startswith(("UNTIL=", "COUNT="))]
    until = (instant - datetime.timedelta(seconds=1)).astimezone(datetime.UTC)
    parts.append(f"UNTIL={until:%Y%m%dT%H%M%SZ}")
    series.rrule = ";".join(parts)


def move_following(actor, appointment: Appointment, *, starts_at: datetime.datetime, scope: str, request=None) -> int:
    """Move this and the following occurrences (or all upcoming) by the same shift as this one;
    all-or-nothing. "following" splits the series: the old one ends before this occurrence and a
    new series begins at the new time. The number moved."""
    services._require(actor, Perm.APPOINTMENTS_BOOK)
    shift = starts_at - appointment.starts_at
    with tenant_context(practice_id=actor.practice_id, user_id=actor.user_id), transaction.atomic():
        series = Series.objects.select_for_update().filter(pk=appointment.series_id).first()
        if series is None:
            raise InvalidInput("This appointment is not part of a series.")
        start = appointment.starts_at if scope == "following" else timezone.now()
        rows = list(_upcoming(series.pk, start).order_by("starts_at"))
        # Later rows first when moving later (and earlier first when earlier), so a series never
        # overlaps itself midway.
        rows.sort(key=lambda r: r.starts_at, reverse=shift > datetime.timedelta(0))
        target = series
        if scope == "following":
            old_rule = series.rrule
            _end_rule_before(series, appointment.starts_at)
            series.save(update_fields=["rrule", "updated_at"])
            zone = zoneinfo.ZoneInfo(series.time_zone)
            target = Series.objects.create(
                practice_id=actor.practice_id, patient_id=series.patient_id, clinician_id=series.clinician_id,
                appointment_type_id=series.appointment_type_id, location_id=series.location_id, rrule=old_rule,
                first_start_local=starts_at.astimezone(zone).replace(tzinfo=datetime.UTC), time_zone=series.time_zone,
                created_by_id=actor.membership_id,
            )  # fmt: skip
        try:
            for row in rows:
                services.move(actor, row.pk, version=row.version, starts_at=row.starts_at + shift, request=request)
        except services.SlotTaken:
            raise InvalidInput("Nothing was moved: the clinician is not free at the new time on one of those dates.") from None
        if target is not series:
            Appointment.objects.filter(pk__in=[r.pk for r in rows]).update(series=target)
    return len(rows)
