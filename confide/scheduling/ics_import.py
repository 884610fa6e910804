"""Import of an .ics file as blocked time (issue 16 item 5): a clinician's other calendar (a
conference, a personal appointment) keeps their bookable slots free.

- The file is capped at MAX_BYTES, checked before anything parses it.
- Every VEVENT that is opaque (TRANSP is not TRANSPARENT) and not cancelled becomes a
  `BlockedTime` with source "ics" and label "Busy": the event's title, description, place and
  attendees are never kept (the clinician's private calendar is not the practice's business).
- RRULEs are expanded with dateutil, bounded: nothing later than HORIZON_DAYS from now, at most
  MAX_BLOCKS blocks per file (an RRULE without an end stops there, it is not an error).
  EXDATEs are honoured; an overriding instance (RECURRENCE-ID) replaces the generated one.
- `import_key` = sha256(UID + RECURRENCE-ID (or the occurrence's start)): re-importing the same
  file replaces the clinician's earlier imported blocks of the same keys instead of duplicating,
  and blocks of the earlier import that the new file no longer has are removed (the file is the
  clinician's calendar as it is now). All of it in one transaction: a bad file writes nothing.
"""

from __future__ import annotations

import datetime
import hashlib

from django.db import transaction
from django.utils import timezone

from confide.audit.chain import record
from confide.audit.events import AuditEvent
from confide.core.errors import InvalidInput
from confide.core.tenancy import tenant_context
from confide.scheduling.clock import UTC, practice_zone
from confide.scheduling.models import BlockedSource, BlockedTime

MAX_BYTES = 1024 * 1024
HORIZON_DAYS = 366
MAX_BLOCKS = 500
MAX_LENGTH = datetime.timedelta(days=14)  # one busy block never spans more than two weeks
BUSY = "Busy"


class BadCalendarFile(InvalidInput):
    pass


def _key(uid: str, recurrence: datetime.datetime | datetime.date | None) -> str:
    stamp = recurrence.isoformat() if recurrence is not None else ""
    return hashlib.sha256(f"{uid}\x00{stamp}".encode()).hexdigest()


def _as_utc(value, zone) -> datetime.datetime:
    """A DTSTART/DTEND value as an aware UTC datetime; a date (all day) is midnight in `zone`."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:  # floating time: the practice's wall clock
            value = value.replace(tzinfo=zone)
        return value.astimezone(UTC)
    if isinstance(value, datetime.date):
        return datetime.datetime.combine(value, datetime.time.min, tzinfo=zone).astimezone(UTC)
    raise BadCalendarFile("An event in the file has a start or end that is not a date or a time.")


def _decoded(component, name):
    prop = component.get(name)
    if prop is None:
        return None
    try:
        return component.decoded(name)
    except Exception:  # noqa: BLE001 - icalendar raises several kinds for a malformed value
        raise BadCalendarFile(f"An event in the file has an unreadable {name}.") from None


def _wall(value, zone) -> datetime.datetime:
    """A date or datetime as a naive wall-clock datetime in `zone`."""
    if isinstance(value, datetime.datetime):
        return value.astimezone(zone).replace(tzinfo=None) if value.tzinfo else value
    return datetime.datetime.combine(value, datetime.time.min)


def _wall_clock_rule(text: str, zone) -> str:
    parts = []
    for part in text.split(";"):
        name, _, value = part.partition("=")
        if name.upper() == "UNTIL" and value.upper().endswith("Z"):
            until = datetime.datetime.strptime(value.upper(), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            value = until.astimezone(zone).strftime("%Y%m%dT%H%M%S")
        parts.append(f"{name}={value}")
    return ";".join(parts)


def parse_blocks(data: bytes, *, zone, now: datetime.datetime | None = None) -> list[tuple[str, datetime.datetime, datetime.datetime]]:
    """(import_key, start, end) for every busy occurrence in the file; BadCalendarFile if it is
    not a calendar file."""
    import icalendar
    from dateutil import rrule as dateutil_rrule

    if len(data) > MAX_BYTES:
        raise BadCalendarFile("The file is larger than 1 MB. Export a shorter period of your calendar.")
    if not data.strip():
        raise BadCalendarFile("The file is empty.")
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except Exception:  # noqa: BLE001 - the parser raises ValueError, IndexError, … for junk
        raise BadCalendarFile("This is not a calendar file (.ics) that can be read.") from None
    if getattr(calendar, "name", "") != "VCALENDAR":
        raise BadCalendarFile("This is not a calendar file (.ics): it has no VCALENDAR.")
    now = now or timezone.now()
    horizon = now + datetime.timedelta(days=HORIZON_DAYS)
    overrides: dict[str, set] = {}
    events = list(calendar.walk("VEVENT"))
    blocks: dict[str, tuple[datetime.datetime, datetime.datetime]] = {}

    def add(key, start, end):
        if end <= start or end - start > MAX_LENGTH:
            return
        if start >= horizon:
            return
        if key not in blocks and len(blocks) >= MAX_BLOCKS:
            return
        blocks[key] = (start, end)

    # Overriding instances first, so the series' generated occurrence of the same time is skipped.
    for event in events:
        if event.get("RECURRENCE-ID") is not None:
            uid = str(event.get("UID", ""))
            overrides.setdefault(uid, set()).add(_as_utc(_decoded(event, "RECURRENCE-ID"), zone))
    for event in events:
        # icalendar is lenient: a value it cannot read is dropped from the event and listed in
        # `errors`. An event whose times or rule were dropped would block the wrong time (or none).
        for name, _problem in getattr(event, "errors", ()):
            if str(name).upper() in ("DTSTART", "DTEND", "DURATION", "RRULE", "EXDATE", "RECURRENCE-ID"):
                what = "repeat rule" if str(name).upper() == "RRULE" else str(name).upper()
                raise BadCalendarFile(f"An event in the file has an unreadable {what}: it cannot be read.")
    for event in sorted(events, key=lambda e: e.get("RECURRENCE-ID") is None):
        uid = str(event.get("UID", "")).strip()
        if not uid:
            raise BadCalendarFile("An event in the file has no UID.")
        raw_start = _decoded(event, "DTSTART")
        if raw_start is None:
            raise BadCalendarFile("An event in the file has no start time.")
        start = _as_utc(raw_start, zone)
        raw_end = _decoded(event, "DTEND")
        if raw_end is not None:
            end = _as_utc(raw_end, zone)
        else:
            duration = _decoded(event, "DURATION")
            if isinstance(duration, datetime.timedelta):
                end = start + duration
            elif not isinstance(raw_start, datetime.datetime):  # an all-day event without an end: one day
                end = start + datetime.timedelta(days=1)
            else:
                end = start
        length = end - start
        recurrence_id = event.get("RECURRENCE-ID")
        busy = str(event.get("TRANSP", "OPAQUE")).upper() != "TRANSPARENT" and str(event.get("STATUS", "")).upper() != "CANCELLED"
        if recurrence_id is not None:
            original = _as_utc(_decoded(event, "RECURRENCE-ID"), zone)
            key = _key(uid, original)
            if busy:
                add(key, start, end)
            else:
                blocks.pop(key, None)
            continue
        if not busy:
            continue
        rule = event.get("RRULE")
        if rule is None:
            add(_key(uid, None), start, end)
            continue
        local_start = raw_start if isinstance(raw_start, datetime.datetime) else datetime.datetime.combine(raw_start, datetime.time.min)
        event_zone = local_start.tzinfo or zone
        try:
            # Expanded on the event's wall clock (09:00 stays 09:00 across a DST change), then
            # placed in its zone: a naive DTSTART, with UNTIL turned to the same wall clock.
            ruleset = dateutil_rrule.rrulestr(
                _wall_clock_rule(rule.to_ical().decode(), event_zone),
                dtstart=local_start.replace(tzinfo=None), forceset=True,
            )
            exdates = event.get("EXDATE")
            for exdate_prop in (exdates if isinstance(exdates, list) else [exdates] if exdates is not None else []):
                for when in exdate_prop.dts:
                    ruleset.exdate(_wall(when.dt, event_zone))
        except (ValueError, TypeError, AttributeError):
            raise BadCalendarFile("An event in the file repeats by a rule that cannot be read.") from None
        skipped = overrides.get(uid, set())
        count = 0
        for occurrence in ruleset:  # an endless rule stops at the horizon or the cap
            occurrence_utc = occurrence.replace(tzinfo=event_zone).astimezone(UTC)
            if occurrence_utc >= horizon or len(blocks) >= MAX_BLOCKS or count >= MAX_BLOCKS:
                break
            count += 1
            if occurrence_utc in skipped:
                continue
            add(_key(uid, occurrence_utc), occurrence_utc, occurrence_utc + length)
    return [(key, start, end) for key, (start, end) in blocks.items()]


def import_ics(actor, data: bytes, *, clinician_id=None, request=None) -> dict:
    """Replace the clinician's imported busy times with the file's. {"blocks": n, "replaced": m}."""
    clinician_id = clinician_id or actor.membership_id
    with tenant_context(practice_id=actor.practice_id, user_id=getattr(actor, "user_id", None)):
        zone = practice_zone(actor.practice_id)
        parsed = parse_blocks(data, zone=zone)
        with transaction.atomic():
            earlier = BlockedTime.objects.filter(clinician_id=clinician_id, source=BlockedSource.ICS)
            replaced = earlier.count()
            earlier.delete()
            BlockedTime.objects.bulk_create([
                BlockedTime(practice_id=actor.practice_id, clinician_id=clinician_id, starts_at=start, ends_at=end,
                            source=BlockedSource.ICS, label=BUSY, import_key=key)
                for key, start, end in parsed
            ])  # fmt: skip
            record(AuditEvent.BLOCKED_TIME_IMPORTED, practice_id=actor.practice_id, actor=actor, purpose="operations",
                   detail={"blocks": len(parsed), "replaced": replaced}, request=request)  # fmt: skip
    return {"blocks": len(parsed), "replaced": replaced}
