"""The calendar's tables (issue 16 item 1).

What is where:
- `SchedulingSettings`: one row per practice: its time zone (every wall-clock time on a screen,
  in a reminder or in a feed is in it), the default reminder offsets, the feed's initials switch.
- `Location` (telehealth is a location of kind `telehealth`) and its `Room`s.
- `AppointmentType`: name, duration, price, colour, telehealth or in person, bookable online.
- `WorkingHours`: a clinician's weekly hours (wall-clock times in the practice's zone).
- `Series`: a recurring appointment: its RFC 5545 RRULE, the wall-clock start it repeats at,
  and the zone it repeats in (so 9:00 stays 9:00 across a DST change); its occurrences are
  `Appointment` rows, expanded with a bound (confide/scheduling/recurrence.py).
- `Appointment`: patient, clinician (a `Membership`), type, where, `starts_at`/`ends_at` (UTC in
  the database), status. No free text: who cancelled and why are a membership and a code.
  Double booking is refused by the database: on PostgreSQL an exclusion constraint on clinician
  and time range (migration 0001), on SQLite the check inside the writer lock (services.py).
- `BlockedTime`: a clinician's time off the calendar (by hand, or imported from an .ics file,
  kept as "Busy" with no title).

An appointment row names a patient, so it is PHI (category `scheduling.appointments`): every
page that shows patient names with appointments opens the door once as a list.
"""

from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q

from confide.core.models import TenantModel
from confide.core.text import multi_line, single_line

DEFAULT_TIME_ZONE = "America/New_York"
# Minutes before the start: 48 hours and 2 hours (issue 16 item 3).
DEFAULT_REMINDER_OFFSETS = [2880, 120]
MAX_DURATION_MINUTES = 8 * 60
colour_hex = RegexValidator(r"^#[0-9a-fA-F]{6}$", "a colour like #2b6cb0")


def valid_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError("Choose a time zone from the list (e.g. America/New_York).", code="time_zone")


def valid_offsets(value) -> None:
    if not isinstance(value, list) or len(value) > 4 or not all(isinstance(v, int) and 10 <= v <= 14 * 24 * 60 for v in value):
        raise ValidationError("Up to four reminders, each between 10 minutes and 14 days before.", code="offsets")


class SchedulingSettings(TenantModel):
    time_zone = models.CharField(max_length=64, default=DEFAULT_TIME_ZONE, validators=[single_line, valid_time_zone])
    reminder_offsets = models.JSONField(default=list, validators=[valid_offsets])  # minutes before; [] = the defaults
    reminders_enabled = models.BooleanField(default=True)
    # The private feed shows the patient's initials only when the practice turns this on (an
    # egress declared in the policy, with its own sentence in the notice); off: type and time.
    feed_initials = models.BooleanField(default=False)
    late_cancel_hours = models.PositiveSmallIntegerField(default=24, validators=[MaxValueValidator(168)])

    class Meta:
        constraints = [models.UniqueConstraint(fields=["practice"], name="scheduling_settings_one_per_practice")]


class LocationKind(models.TextChoices):
    IN_PERSON = "in_person", "In person"
    TELEHEALTH = "telehealth", "Telehealth (video)"


class Location(TenantModel):
    name = models.CharField(max_length=120, validators=[single_line])
    kind = models.CharField(max_length=16, choices=LocationKind.choices, default=LocationKind.IN_PERSON)
    # The practice's own address (public on its website), not a patient's.
    address = models.TextField(max_length=500, blank=True, validators=[multi_line])
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Room(TenantModel):
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="rooms")
    name = models.CharField(max_length=80, validators=[single_line])
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AppointmentType(TenantModel):
    name = models.CharField(max_length=120, validators=[single_line])
    duration_minutes = models.PositiveSmallIntegerField(
        default=50, validators=[MinValueValidator(5), MaxValueValidator(MAX_DURATION_MINUTES)]
    )
    price_cents = models.PositiveIntegerField(null=True, blank=True)
    colour = models.CharField(max_length=7, default="#2b6cb0", validators=[single_line, colour_hex])
    telehealth = models.BooleanField(default=False)
    bookable_online = models.BooleanField(default=False)
    # Minutes before the start; null: the practice's offsets.
    reminder_offsets = models.JSONField(null=True, blank=True, validators=[valid_offsets])
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WorkingHours(TenantModel):
    clinician = models.ForeignKey("accounts.Membership", on_delete=models.CASCADE, related_name="+")
    weekday = models.PositiveSmallIntegerField(validators=[MaxValueValidator(6)])  # 0 = Monday
    starts = models.TimeField()  # wall-clock, the practice's zone
    ends = models.TimeField()
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["weekday", "starts"]
        constraints = [models.CheckConstraint(condition=Q(ends__gt=F("starts")), name="working_hours_end_after_start")]


class Status(models.TextChoices):
    REQUESTED = "requested", "Requested"
    BOOKED = "booked", "Booked"
    CONFIRMED = "confirmed", "Confirmed"
    ARRIVED = "arrived", "Arrived"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"


# The statuses that hold the clinician's time: the exclusion constraint covers exactly these.
HOLDS_TIME = (Status.REQUESTED, Status.BOOKED, Status.CONFIRMED, Status.ARRIVED, Status.COMPLETED)


class CancelReason(models.TextChoices):
    PATIENT_REQUEST = "patient_request", "The patient asked"
    PATIENT_LATE = "patient_late", "The patient cancelled late"
    CLINICIAN_UNAVAILABLE = "clinician_unavailable", "The clinician is unavailable"
    PRACTICE_CLOSED = "practice_closed", "The practice is closed"
    RESCHEDULED = "rescheduled", "Rescheduled"
    OTHER = "other", "Other"


class Source(models.TextChoices):
    STAFF = "staff", "Booked by staff"
    PORTAL = "portal", "Booked in the portal"
    WEBSITE = "website", "Requested on the website"
    SERIES = "series", "Part of a recurring series"


class Series(TenantModel):
    patient = models.ForeignKey("records.Patient", on_delete=models.PROTECT, related_name="+")
    clinician = models.ForeignKey("accounts.Membership", on_delete=models.PROTECT, related_name="+")
    appointment_type = models.ForeignKey(AppointmentType, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # RFC 5545 RRULE without DTSTART (e.g. "FREQ=WEEKLY;BYDAY=TU;COUNT=10"); at most
    # recurrence.MAX_OCCURRENCES occurrences and recurrence.HORIZON_DAYS ahead are ever made.
    rrule = models.CharField(max_length=500, validators=[single_line])
    first_start_local = models.DateTimeField()  # naive wall-clock time of the first occurrence
    time_zone = models.CharField(max_length=64, validators=[single_line, valid_time_zone])
    created_by = models.ForeignKey("accounts.Membership", null=True, on_delete=models.SET_NULL, related_name="+")


class Appointment(TenantModel):
    patient = models.ForeignKey("records.Patient", on_delete=models.PROTECT, related_name="+")
    clinician = models.ForeignKey("accounts.Membership", on_delete=models.PROTECT, related_name="+")
    appointment_type = models.ForeignKey(AppointmentType, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    room = models.ForeignKey(Room, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BOOKED)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.STAFF)
    series = models.ForeignKey(Series, null=True, blank=True, on_delete=models.SET_NULL, related_name="appointments")
    # The occurrence's original start (RFC 5545 RECURRENCE-ID): stays put when one occurrence moves.
    occurrence_start = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=32, choices=CancelReason.choices, blank=True)
    cancelled_by = models.ForeignKey("accounts.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    cancelled_by_patient = models.BooleanField(default=False)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey("accounts.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The patient answered a reminder with R (confide/scheduling/reminders.py): shown on the
    # calendar and the appointment page until staff move or cancel the appointment.
    reschedule_requested_at = models.DateTimeField(null=True, blank=True)
    # Every change is a conditional update on this number: a page that read version 3 cannot
    # overwrite a change made since (409 "changed meanwhile").
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["starts_at"]
        indexes = [
            models.Index(fields=["practice", "starts_at"], name="appointment_practice_start"),
            models.Index(fields=["clinician", "starts_at"], name="appointment_clinician_start"),
            models.Index(fields=["patient", "starts_at"], name="appointment_patient_start"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="appointment_ends_after_start"),
        ]

    @property
    def holds_time(self) -> bool:
        return self.status in HOLDS_TIME


class BlockedSource(models.TextChoices):
    MANUAL = "manual", "Added here"
    ICS = "ics", "Imported calendar file"


class BlockedTime(TenantModel):
    clinician = models.ForeignKey("accounts.Membership", on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    source = models.CharField(max_length=8, choices=BlockedSource.choices, default=BlockedSource.MANUAL)
    # A short label the clinician typed ("Lunch", "Conference"); an imported event's title is
    # never kept (it is the clinician's private calendar): imports say "Busy".
    label = models.CharField(max_length=80, blank=True, default="Busy", validators=[single_line])
    # An imported event's UID, hashed: a re-import replaces rather than duplicates.
    import_key = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["starts_at"]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="blocked_time_ends_after_start")]


class CalendarFeed(TenantModel):
    """A clinician's private iCalendar feed (issue 16 item 5): the URL's secret is shown once and
    only its SHA-256 kept here. Rotating replaces the hash (the old URL stops at once); revoking
    clears it. Fetches are counted on the row rather than audited one by one (see feed.py)."""

    clinician = models.ForeignKey("accounts.Membership", on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)  # null: revoked
    issued_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    fetch_count = models.PositiveIntegerField(default=0)
    last_fetched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["clinician"], name="calendar_feed_one_per_clinician")]


class ReminderStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    SENDING = "sending", "Sending"  # claimed by one sweep (a lease: `claimed_until`)
    SENT = "sent", "Sent"  # handed to the send gate, which queued (or deferred) it
    REFUSED = "refused", "Not sent"  # the gate refused it (its code in `outcome_code`)
    SKIPPED = "skipped", "Skipped"  # its time had passed, or the gate would hold it past the start
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"  # the appointment was moved or cancelled first


class ReminderReply(models.TextChoices):
    CONFIRMED = "confirmed", "Confirmed (C)"
    RESCHEDULE = "reschedule", "Asked to reschedule (R)"


class Reminder(TenantModel):
    """One reminder of one appointment at one offset (confide/scheduling/reminders.py). Ids, times
    and codes only: the text is the messaging Message it became (sealed there)."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="reminders")
    offset_minutes = models.PositiveIntegerField()
    due_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=ReminderStatus.choices, default=ReminderStatus.PLANNED)
    channel = models.CharField(max_length=16, blank=True, validators=[single_line])  # sms | email | portal, once chosen
    message = models.ForeignKey("messaging.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The gate's refusal or deferral code, or why it was skipped or cancelled (past, moved, late-start…).
    outcome_code = models.CharField(max_length=32, blank=True, validators=[single_line])
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    reply = models.CharField(max_length=16, choices=ReminderReply.choices, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at"]
        indexes = [models.Index(fields=["status", "due_at"], name="reminder_status_due")]
        constraints = [
            # One planned reminder per appointment and offset: re-planning twice at once cannot
            # leave two that would both be sent.
            models.UniqueConstraint(
                fields=["appointment", "offset_minutes"],
                condition=Q(status="planned"),
                name="reminder_one_live_per_offset",
            ),
        ]
# --- Google Calendar, read-only (issue 16 item 4; SCH2/SCH3; confide/scheduling/google.py) ------
class GoogleStatus(models.TextChoices):
    CONNECTED = "connected", "Connected"
    REVOKED = "revoked", "Disconnected"


class GoogleRevokedReason(models.TextChoices):
    BY_CLINICIAN = "by-clinician", "Disconnected here"
    AT_GOOGLE = "revoked-at-google", "Access ended at Google"
    MEMBERSHIP_ENDED = "membership-ended", "The staff member's access to the practice ended"


class GoogleConnection(TenantModel):
    """One clinician membership's link to their Google Calendar. Holds the OAuth tokens (sealed
    under the platform key, table/column/row bound) and what was granted: never anything from an
    event (SCH2). Revoked: the tokens are wiped, the row stays as the record of when and why."""

    membership = models.ForeignKey("accounts.Membership", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=12, choices=GoogleStatus.choices, default=GoogleStatus.CONNECTED)
    # {"access_token", "refresh_token", "expiry"} as JSON, sealed; "" once revoked.
    sealed_tokens = models.TextField(blank=True, default="")
    scopes = models.CharField(max_length=300, blank=True, default="")  # as Google granted them
    connected_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=20, choices=GoogleRevokedReason.choices, blank=True, default="")
    # Every change is a conditional update on this number (a refresh racing a revoke loses).
    version = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["membership"], name="google_connection_one_per_membership")]


class GoogleOAuthState(TenantModel):
    """One "Connect Google Calendar" attempt: the state parameter (hashed) bound to the session
    and the membership, and the PKCE verifier (sealed). Consumed once, by a conditional update."""

    membership = models.ForeignKey("accounts.Membership", on_delete=models.CASCADE, related_name="+")
    state_hash = models.CharField(max_length=64, unique=True)
    sealed_verifier = models.TextField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)


class WaitPreference(models.TextChoices):
    ANY = "any", "Any time"
    MORNINGS = "mornings", "Mornings"
    AFTERNOONS = "afternoons", "Afternoons"
    EVENINGS = "evenings", "Evenings"
    TELEHEALTH = "telehealth", "Telehealth only"
    SHORT_NOTICE = "short_notice", "Can come at short notice"


class WaitlistEntry(TenantModel):
    """A patient waiting for an appointment (issue 16 item 1): with a clinician or anyone, of a
    type, with a preference as a code (no free text: nothing to seal). Closed when booked or
    removed; a conditional update, so two people cannot book from one entry."""

    patient = models.ForeignKey("records.Patient", on_delete=models.PROTECT, related_name="+")
    clinician = models.ForeignKey("accounts.Membership", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    appointment_type = models.ForeignKey(AppointmentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    preference = models.CharField(max_length=16, choices=WaitPreference.choices, default=WaitPreference.ANY)
    is_open = models.BooleanField(default=True)
    closed_by_appointment = models.ForeignKey(Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey("accounts.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["practice", "is_open"], name="waitlist_practice_open")]
