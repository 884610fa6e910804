"""Quiet hours and rate limits for texts, in the recipient's local time (TCPA §64.1200(c)(1);
Florida §501.616(6), Oklahoma 15 O.S. §775C: ../shared/reference/rules-and-deadlines.md §3.2).

The recipient's state — and from it the time zone — comes from the patient's postal address
first, then the phone number's area code (libphonenumber's offline geocoder and time-zone
tables), then the practice's own time zone. A state that spans two zones takes the zone of the
number when the number is in that state, else the state's larger zone.

    next_allowed(outgoing, now) -> (until, code, reason) | (None, "", "")
    rate_limit(outgoing, now)   -> (until, code, reason) | (None, "", "")
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from phonenumbers import geocoder
from phonenumbers import timezone as phone_timezone

# The window each state allows (local time); the rest of the country: the federal 8:00–21:00.
FEDERAL_WINDOW = (datetime.time(8, 0), datetime.time(21, 0))
STATE_WINDOWS = {"FL": (datetime.time(8, 0), datetime.time(20, 0)), "OK": (datetime.time(8, 0), datetime.time(20, 0))}
# States that also cap texts on one subject: at most this many per rolling 24 hours.
STATE_SUBJECT_CAP = {"FL": 3, "OK": 3}

# Each state's main time zone (the one most of its people live in).
STATE_ZONES = {
    "AL": "America/Chicago", "AK": "America/Anchorage", "AZ": "America/Phoenix", "AR": "America/Chicago",
    "CA": "America/Los_Angeles", "CO": "America/Denver", "CT": "America/New_York", "DE": "America/New_York",
    "DC": "America/New_York", "FL": "America/New_York", "GA": "America/New_York", "HI": "Pacific/Honolulu",
    "ID": "America/Boise", "IL": "America/Chicago", "IN": "America/Indiana/Indianapolis", "IA": "America/Chicago",
    "KS": "America/Chicago", "KY": "America/New_York", "LA": "America/Chicago", "ME": "America/New_York",
    "MD": "America/New_York", "MA": "America/New_York", "MI": "America/Detroit", "MN": "America/Chicago",
    "MS": "America/Chicago", "MO": "America/Chicago", "MT": "America/Denver", "NE": "America/Chicago",
    "NV": "America/Los_Angeles", "NH": "America/New_York", "NJ": "America/New_York", "NM": "America/Denver",
    "NY": "America/New_York", "NC": "America/New_York", "ND": "America/Chicago", "OH": "America/New_York",
    "OK": "America/Chicago", "OR": "America/Los_Angeles", "PA": "America/New_York", "RI": "America/New_York",
    "SC": "America/New_York", "SD": "America/Chicago", "TN": "America/Chicago", "TX": "America/Chicago",
    "UT": "America/Denver", "VT": "America/New_York", "VA": "America/New_York", "WA": "America/Los_Angeles",
    "WV": "America/New_York", "WI": "America/Chicago", "WY": "America/Denver", "PR": "America/Puerto_Rico",
}  # fmt: skip
_STATE_NAMES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA", "colorado": "CO",
    "connecticut": "CT", "delaware": "DE", "district of columbia": "DC", "washington d.c.": "DC", "florida": "FL",
    "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL", "indiana": "IN", "iowa": "IA", "kansas": "KS",
    "kentucky": "KY", "louisiana": "LA", "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI",
    "minnesota": "MN", "mississippi": "MS", "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV",
    "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY", "north carolina": "NC",
    "north dakota": "ND", "ohio": "OH", "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA", "rhode island": "RI",
    "south carolina": "SC", "south dakota": "SD", "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT",
    "virginia": "VA", "washington": "WA", "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY", "puerto rico": "PR",
}  # fmt: skip


@dataclass(frozen=True)
class Locale:
    state: str  # two-letter code, or ""
    zone: zoneinfo.ZoneInfo
    source: str  # "address", "phone", "practice"


def state_code(text: str) -> str:
    """'FL', 'fl', 'Florida', 'Miami, FL' → 'FL'; anything else → ''."""
    value = (text or "").strip()
    if not value:
        return ""
    if value.upper() in STATE_ZONES:
        return value.upper()
    if value.lower() in _STATE_NAMES:
        return _STATE_NAMES[value.lower()]
    tail = value.rsplit(",", 1)[-1].strip()
    return tail.upper() if tail.upper() in STATE_ZONES else _STATE_NAMES.get(tail.lower(), "")


def _phone_state_and_zone(phone: str) -> tuple[str, str]:
    try:
        number = phonenumbers.parse(phone, getattr(settings, "CONFIDE_PHONE_REGION", "US"))
    except phonenumbers.NumberParseException:
        return "", ""
    state = state_code(geocoder.description_for_number(number, "en")) if phonenumbers.region_code_for_number(number) == "US" else ""
    zones = [z for z in phone_timezone.time_zones_for_number(number) if z != phone_timezone.UNKNOWN_TIMEZONE]
    return state, (zones[0] if len(zones) == 1 else "")


def locale_of(address: dict | None, phone: str) -> Locale:
    address_state = state_code((address or {}).get("state", "")) if isinstance(address, dict) else ""
    phone_state, phone_zone = _phone_state_and_zone(phone) if phone else ("", "")
    if address_state:
        zone = phone_zone if phone_state == address_state and phone_zone else STATE_ZONES[address_state]
        return Locale(address_state, zoneinfo.ZoneInfo(zone), "address")
    if phone_state or phone_zone:
        zone = phone_zone or STATE_ZONES[phone_state]
        return Locale(phone_state, zoneinfo.ZoneInfo(zone), "phone")
    return Locale("", zoneinfo.ZoneInfo(settings.TIME_ZONE), "practice")


def _window_start(local: datetime.datetime, start: datetime.time, end: datetime.time) -> datetime.datetime | None:
    """None when `local` is inside [start, end); else the next start, in local time."""
    if start <= local.time() < end:
        return None
    day = local.date() if local.time() < start else local.date() + datetime.timedelta(days=1)
    return datetime.datetime.combine(day, start, tzinfo=local.tzinfo)


def next_allowed(out, now: datetime.datetime):
    """(until, code, reason) when the text must wait; (None, "", "") when it may go now."""
    locale = locale_of(out.address, out.to)
    start, end = STATE_WINDOWS.get(locale.state, FEDERAL_WINDOW)
    local = now.astimezone(locale.zone)
    until = _window_start(local, start, end)
    if until is not None:
        where = f" in {locale.state}" if locale.state else ""
        return until, "quiet-hours", f"Texts wait for {start:%H:%M}–{end:%H:%M} in the patient's time{where}."
    cap = STATE_SUBJECT_CAP.get(locale.state)
    if cap and out.subject_key:
        times = sent_times(out, now - datetime.timedelta(hours=24), now, patient=True, subject_key=out.subject_key)
        if len(times) >= cap:
            # The oldest of the last `cap` texts leaves the 24 hours at `until`; then the window.
            until = times[-cap].astimezone(datetime.UTC) + datetime.timedelta(hours=24)  # elapsed, not wall-clock, hours
            later = _window_start(until.astimezone(locale.zone), start, end)
            return later or until, "subject-cap", f"At most {cap} texts in 24 hours on one subject in {locale.state}."
    return None, "", ""


def sent_times(out, since: datetime.datetime, now: datetime.datetime, *, patient: bool, subject_key: str = "") -> list[datetime.datetime]:
    """When the practice's outbound messages on `out`'s channel (to its patient, on one subject
    when given) left for the provider after `since`, oldest first (one sent exactly 24 hours
    ago has left the window: the deferral computed from it is exactly then).

    Counted by the time they were *sent* (Delivery.sent_at), not written: a text written on
    Monday and deferred to Tuesday morning counts against Tuesday's 24 hours, which is what the
    caps are about (texts received). A send in flight (claimed, no sent time yet) counts as now.
    The message being checked is never counted."""
    from confide.messaging.models import Delivery, Direction, Message, Status

    mine = {"message__practice_id": out.practice_id, "message__direction": Direction.OUTBOUND, "message__channel": out.channel}
    if patient:
        mine["message__patient_id"] = out.patient_id
    if subject_key:
        mine["message__subject_key"] = subject_key
    sent = list(
        Delivery.objects.filter(sent_at__gt=since, sent_at__lte=now, **mine)
        .exclude(message_id=out.message_id).order_by("sent_at").values_list("sent_at", flat=True)
    )
    in_flight = Message.objects.filter(status=Status.SENDING, **{k.removeprefix("message__"): v for k, v in mine.items()})
    in_flight = in_flight.exclude(pk=out.message_id).filter(delivery__sent_at__isnull=True)
    return sent + [now] * in_flight.count()


# Per recipient per day; per practice per minute (a provider's throughput).
SMS_PER_PATIENT_DAY = 10
SMS_PER_PRACTICE_MINUTE = 120


def rate_limit(out, now: datetime.datetime):
    """(until, code, reason) when the practice has sent its limit; deferred until the oldest
    send in the window leaves it (never dropped)."""
    limit = getattr(settings, "CONFIDE_MESSAGES_PER_PATIENT_DAY", SMS_PER_PATIENT_DAY)
    day = sent_times(out, now - datetime.timedelta(hours=24), now, patient=True)
    if len(day) >= limit:
        until = max(day[-limit].astimezone(datetime.UTC) + datetime.timedelta(hours=24), now + datetime.timedelta(seconds=1))
        return until, "rate-patient", f"At most {limit} messages a day to one patient by this channel."
    per_minute = getattr(settings, "CONFIDE_MESSAGES_PER_PRACTICE_MINUTE", SMS_PER_PRACTICE_MINUTE)
    minute = sent_times(out, now - datetime.timedelta(minutes=1), now, patient=False)
    if len(minute) >= per_minute:
        until = max(minute[-per_minute] + datetime.timedelta(minutes=1), now + datetime.timedelta(seconds=1))
        return until, "rate-practice", f"At most {per_minute} messages a minute from the practice."
    return None, "", ""
