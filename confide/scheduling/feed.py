"""A clinician's private iCalendar feed (issue 16 item 5).

The URL is `/calendar/feed/<token>.ics`; the token is the key. It reads `<practice id>.<secret>`:
a feed is tenant-owned and row-level security shows a practice's rows only inside that
practice's context, so the practice (in clear, not a secret) is needed to look the hash up at
all (the same shape as accounts/invitations.py). Only the SHA-256 of the whole token is stored;
the lookup is by that hash (a unique index), so no secret is ever compared byte by byte.

- Issuing (the page's "create", the CLI) makes a new secret and shows it once. On a feed that
  exists, issuing IS rotating: the stored hash is replaced in one UPDATE, so the older URL stops
  at once. Revoking clears the hash.
- The calendar carries no patient data by default: SUMMARY is the appointment type's name,
  LOCATION the location's name, times in UTC, UID stable per appointment, SEQUENCE its version,
  STATUS:CANCELLED for cancelled ones. The patient's initials are added only when the practice
  turned `SchedulingSettings.feed_initials` on AND the policy in force declares the
  `calendar-feed` processor in use: the egress gate is asked on every fetch, and the initials
  are read through the chart door as FEED_INITIALS_JOB (names only, for operations).
- Fetches are counted on the feed row (fetch_count, last_fetched_at), not audited one by one: a
  calendar application polls every few minutes, so one entry per fetch would bury the log in
  identical rows while telling nothing new. What the audit log must show (who could read the
  calendar from when) is the creation, rotation and revocation, each an entry with ids only.
  Fetches with initials on are the exception: the egress gate writes its own entry for each,
  because names then leave the practice.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import secrets
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from confide.audit.chain import record
from confide.audit.events import AuditEvent
from confide.core.errors import InvalidInput, NotFound
from confide.core.permissions import Role
from confide.core.tenancy import tenant_context
from confide.scheduling.models import Appointment, CalendarFeed, SchedulingSettings, Status

PAST = datetime.timedelta(days=30)
AHEAD = datetime.timedelta(days=180)
PRODID = "-//Confide//Private calendar feed//EN"
FEED_PROCESSOR = "calendar-feed"
_TOKEN = re.compile(r"^([0-9a-f]{32})\.([A-Za-z0-9_-]{40,64})$")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token(practice_id) -> tuple[str, str]:
    token = f"{uuid.UUID(str(practice_id)).hex}.{secrets.token_urlsafe(32)}"
    return token, token_hash(token)


def feed_path(token: str) -> str:
    return reverse("scheduling:feed-ics", args=[token])


def feed_url(token: str) -> str:
    return f"{settings.CONFIDE_BASE_URL.rstrip('/')}{feed_path(token)}"


def _clinician(practice_id, membership_id):
    from confide.accounts.models import Membership

    member = Membership.objects.filter(pk=membership_id, practice_id=practice_id, is_active=True).first()
    if member is None or member.role not in (Role.CLINICIAN, Role.OWNER):
        raise InvalidInput("Only a clinician has a calendar feed.")
    return member


def feed_state(practice_id, membership_id) -> CalendarFeed | None:
    with tenant_context(practice_id=practice_id):
        return CalendarFeed.objects.filter(clinician_id=membership_id).first()


def issue(actor_or_none, *, practice_id, membership_id, via: str = "page", request=None) -> tuple[str, bool]:
    """A new secret for the clinician's feed: (token, rotated). `rotated` says an older URL
    existed and stopped working in this same transaction."""
    token, hashed = _new_token(practice_id)
    now = timezone.now()
    with tenant_context(practice_id=practice_id), transaction.atomic():
        _clinician(practice_id, membership_id)
        feed = CalendarFeed.objects.select_for_update().filter(clinician_id=membership_id).first()
        if feed is None:
            feed = CalendarFeed.objects.create(
                practice_id=practice_id, clinician_id=membership_id, token_hash=hashed, issued_at=now
            )
            rotated, event = False, AuditEvent.CALENDAR_FEED_CREATED
        else:
            rotated = bool(feed.token_hash)
            CalendarFeed.objects.filter(pk=feed.pk).update(token_hash=hashed, issued_at=now, revoked_at=None, updated_at=now)
            event = AuditEvent.CALENDAR_FEED_ROTATED if rotated else AuditEvent.CALENDAR_FEED_CREATED
        record(event, practice_id=practice_id, actor=actor_or_none, purpose="operations",
               resource_ids=[feed.pk], detail={"via": via}, request=request)  # fmt: skip
    return token, rotated


def revoke(actor, *, practice_id, membership_id, request=None) -> bool:
    """Turn the feed off: its URL answers 404 from now on. False if there was none to turn off."""
    now = timezone.now()
    with tenant_context(practice_id=practice_id), transaction.atomic():
        feed = CalendarFeed.objects.select_for_update().filter(clinician_id=membership_id, token_hash__isnull=False).first()
        if feed is None:
            return False
        CalendarFeed.objects.filter(pk=feed.pk).update(token_hash=None, revoked_at=now, updated_at=now)
        record(AuditEvent.CALENDAR_FEED_REVOKED, practice_id=practice_id, actor=actor, purpose="operations",
               resource_ids=[feed.pk], request=request)  # fmt: skip
    return True


def _find(token: str) -> CalendarFeed:
    match = _TOKEN.fullmatch(token or "")
    if match is None:
        raise NotFound("feed")
    practice_id = uuid.UUID(match.group(1))
    with tenant_context(practice_id=practice_id):
        feed = CalendarFeed.objects.filter(token_hash=token_hash(token)).first()
    if feed is None:
        raise NotFound("feed")
    return feed


def initials_of(given: str, family: str) -> str:
    letters = [part[:1].upper() for part in (given, family) if part and part[:1].isalpha()]
    return ".".join(letters) + "." if letters else ""


def _initials(practice_id, patient_ids) -> dict:
    """{patient id: "A.B."} when the practice shows initials and the policy in force declares the
    feed in use; {} otherwise (the gate's refusal is on record; the feed then goes without)."""
    if not patient_ids:
        return {}
    wants = SchedulingSettings.objects.filter(practice_id=practice_id, feed_initials=True).exists()
    if not wants:
        return {}
    from confide.access.door import FEED_INITIALS_JOB, open_patient_list
    from confide.core.purposes import Purpose
    from confide.policy.egress import EgressRefused, check_egress

    actor = FEED_INITIALS_JOB.for_practice(practice_id)
    try:
        check_egress(practice_id=practice_id, processor_id=FEED_PROCESSOR, purpose=Purpose.OPERATIONS,
                     categories={"identifiers.name"}, actor=actor, subject_ids=list(patient_ids))  # fmt: skip
    except EgressRefused:
        return {}
    out = {}
    with open_patient_list(actor, Purpose.OPERATIONS, patient_ids, categories=["identifiers.name"]) as patients:
        for patient in patients:
            out[patient.pk] = initials_of(getattr(patient, "given_name", "") or "", getattr(patient, "family_name", "") or "")
    return out


INITIALS_NOT_DECLARED = (
    "Initials can be turned on only when the privacy notice in force declares clinicians' calendar "
    "applications (processor \"calendar-feed\") in use, with an agreement on file with the calendar's "
    "provider. Ask the privacy officer to publish that first."
)


def initials_on(practice_id) -> bool:
    with tenant_context(practice_id=practice_id):
        return SchedulingSettings.objects.filter(practice_id=practice_id, feed_initials=True).exists()


def initials_declared(practice_id) -> bool:
    """Whether the policy in force declares the feed's egress in use (with the agreement PHI needs)."""
    from confide.policy.services import declaration_in_force

    declaration = declaration_in_force(practice_id)
    return any(p.id == FEED_PROCESSOR and p.in_use and (p.baa_on_file or p.role == "first_party") for p in declaration.processors)


def set_feed_initials(actor, on: bool, *, request=None) -> None:
    """The practice's switch for initials in every clinician's feed (SCHEDULE_CONFIGURE). Turning
    it on is refused unless the policy in force declares the egress; off is always allowed."""
    from confide.core.errors import Forbidden
    from confide.core.permissions import Perm

    if not actor.has(Perm.SCHEDULE_CONFIGURE):
        raise Forbidden(Perm.SCHEDULE_CONFIGURE.value)
    if on and not initials_declared(actor.practice_id):
        raise InvalidInput(INITIALS_NOT_DECLARED)
    with tenant_context(practice_id=actor.practice_id, user_id=actor.user_id), transaction.atomic():
        SchedulingSettings.objects.get_or_create(practice_id=actor.practice_id)
        SchedulingSettings.objects.filter(practice_id=actor.practice_id).update(feed_initials=on, updated_at=timezone.now())
        record(AuditEvent.FEED_INITIALS_CHANGED, practice_id=actor.practice_id, actor=actor, purpose="operations",
               detail={"on": bool(on)}, request=request)  # fmt: skip


def render_feed(token: str, *, now: datetime.datetime | None = None) -> bytes:
    """The feed's VCALENDAR bytes; NotFound for an unknown or revoked token."""
    import icalendar

    feed = _find(token)
    now = now or timezone.now()
    with tenant_context(practice_id=feed.practice_id):
        CalendarFeed.objects.filter(pk=feed.pk).update(fetch_count=F("fetch_count") + 1, last_fetched_at=now)
        rows = list(
            Appointment.objects.filter(
                clinician_id=feed.clinician_id, starts_at__lt=now + AHEAD, ends_at__gt=now - PAST
            ).select_related("appointment_type", "location").order_by("starts_at")
        )
        initials = _initials(feed.practice_id, sorted({row.patient_id for row in rows}, key=str))
        from confide.core.models import Practice

        practice_name = Practice.objects.filter(pk=feed.practice_id).values_list("name", flat=True).first() or "Confide"
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", f"{practice_name}: appointments")
    for row in rows:
        event = icalendar.Event()
        event.add("uid", f"{row.pk}@confide")
        event.add("dtstamp", now.astimezone(datetime.UTC))
        event.add("dtstart", row.starts_at.astimezone(datetime.UTC))
        event.add("dtend", row.ends_at.astimezone(datetime.UTC))
        summary = row.appointment_type.name
        if row.patient_id in initials and initials[row.patient_id]:
            summary = f"{summary} ({initials[row.patient_id]})"
        event.add("summary", summary)
        event.add("sequence", row.version)
        if row.location_id:
            event.add("location", row.location.name)
        event.add("status", "CANCELLED" if row.status == Status.CANCELLED else "CONFIRMED")
        event.add("transp", "TRANSPARENT" if row.status in (Status.CANCELLED, Status.NO_SHOW) else "OPAQUE")
        calendar.add_component(event)
    return calendar.to_ical()
