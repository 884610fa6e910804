"""Appointment reminders and the patient's C/R answers (issue 16 item 3; SCH1, MSG2, CON1).

    plan(appointment, replaced=MOVED)    the reminders of an appointment that holds time, at the
                                         offsets of its type, else the practice's, else 48 h and 2 h
    cancel_planned(appointment_id, code) its unsent reminders cancelled (cancelled, no-show, …)
    sweep(now=None)                      send every due reminder once (the task worker, every minute)
    send_due(reminder_id, practice_id)   one reminder: claimed by conditional update, then sent
    handle_reply(...)                    "C" confirms, "R" asks to reschedule (registered with
                                         messaging's inbound handlers in SchedulingConfig.ready)
    reminder_rows(appointment)           the appointment page's list, in words

Planning runs inside the booking/moving/cancelling transaction (services.py): a reminder never
outlives the time it was planned for. A reminder whose time has already passed when the
appointment is booked or moved is not sent late (it is kept as "skipped: past" so staff see why);
the later offsets still go. Nothing is sent "at once" for a short-notice booking: the person who
booked it has just been told the time.

Sending goes through the messaging send gate only (`send_message`, topic `reminder`) as the
narrow REMINDER_JOB (phone, e-mail, the appointment's time and the text it writes; never a name,
the postal address or anything clinical). The text names the practice, the date and the time in
the practice's zone with its abbreviation, and nothing else: no clinician, no appointment type (a
type can be clinical: "Suboxone follow-up"). The gate decides consent, preferences, opt-outs and
quiet hours; a reminder the gate would hold past the appointment's start is skipped (its message
refused on record), and every outcome is written on the reminder.

Each reminder is sent once even with two sweeps racing: the claim is a conditional update
(planned → sending, with a lease), and the final write is conditional on that lease, so a sweep
that lost its lease rolls its message back.

Replies (after STOP/START/HELP, which messaging honours first, and after the emergency and
free-text stop rules): the whole text, trimmed, trailing punctuation ignored, case-insensitive,
must be exactly C or CONFIRM (confirm) or R or RESCHEDULE (reschedule). "YES" is not a
confirmation: it is an opt-in keyword (START) and messaging answers it as such. The answer is
about the patient's soonest upcoming appointment that holds time and had a reminder sent in the
last 72 hours; with none, the text is an ordinary message in the thread. Each reminder gets one
automatic reply, through the gate (an opted-out number gets none; the confirmation still counts).
"""

from __future__ import annotations

import datetime
import logging
import re
import unicodedata
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from confide.core.tenancy import tenant_context
from confide.scheduling.models import (
    DEFAULT_REMINDER_OFFSETS,
    Appointment,
    Reminder,
    ReminderReply,
    ReminderStatus,
    SchedulingSettings,
    Status,
)

logger = logging.getLogger(__name__)

# Appointments that get reminders: booked or confirmed (a request is not yet an appointment).
REMINDED = (Status.BOOKED, Status.CONFIRMED)
LEASE = datetime.timedelta(minutes=5)
REPLY_WINDOW = datetime.timedelta(hours=72)
# Outcome codes of our own (the gate's codes are stored as the gate gives them).
PAST = "past"  # its time had passed when the appointment was booked or moved
MOVED = "moved"
APPOINTMENT_CANCELLED = "appointment-cancelled"
NO_CHANNEL = "no-channel"  # the patient turned reminders off on every channel
ERROR = "error"

CONFIRM_WORDS = frozenset({"C", "CONFIRM"})
RESCHEDULE_WORDS = frozenset({"R", "RESCHEDULE"})


# --- planning --------------------------------------------------------------------------------
def offsets_for(appointment: Appointment) -> list[int]:
    """Minutes before the start, largest first: the type's, else the practice's, else 48 h and 2 h."""
    own = appointment.appointment_type.reminder_offsets
    if own is None:
        own = SchedulingSettings.objects.filter(practice_id=appointment.practice_id).values_list("reminder_offsets", flat=True).first()
    return sorted({int(m) for m in (own or DEFAULT_REMINDER_OFFSETS)}, reverse=True)


def _enabled(practice_id) -> bool:
    return SchedulingSettings.objects.filter(practice_id=practice_id, reminders_enabled=False).exists() is False


def plan(appointment: Appointment, *, replaced: str = MOVED, now: datetime.datetime | None = None) -> list[Reminder]:
    """(Re)plan the appointment's reminders; inside the caller's transaction and tenant context.
    Unsent ones are cancelled with `replaced` and new ones made for the current start."""
    now = now or timezone.now()
    cancel_planned(appointment.pk, replaced)
    if appointment.status not in REMINDED or not _enabled(appointment.practice_id):
        return []
    rows = []
    for offset in offsets_for(appointment):
        due = appointment.starts_at - datetime.timedelta(minutes=offset)
        past = due <= now
        rows.append(Reminder(
            practice_id=appointment.practice_id, appointment=appointment, offset_minutes=offset, due_at=due,
            status=ReminderStatus.SKIPPED if past else ReminderStatus.PLANNED, outcome_code=PAST if past else "",
        ))  # fmt: skip
    return Reminder.objects.bulk_create(rows)


def cancel_planned(appointment_id, code: str) -> int:
    return Reminder.objects.filter(appointment_id=appointment_id, status=ReminderStatus.PLANNED).update(
        status=ReminderStatus.CANCELLED, outcome_code=code[:32], updated_at=timezone.now()
    )


# --- the text ----------------------------------------------------------------------------------
def when_words(starts_at: datetime.datetime, zone) -> tuple[str, str]:
    """("Tuesday, March 9", "10:00 AM EST"): the practice's wall clock and its abbreviation."""
    local = starts_at.astimezone(zone)
    return f"{local:%A, %B} {local.day}", f"{local:%I:%M %p}".lstrip("0") + f" {local.tzname()}"


def reminder_text(practice_name: str, starts_at: datetime.datetime, zone, channel: str) -> str:
    day, time = when_words(starts_at, zone)
    text = f"You have an appointment with {practice_name} on {day} at {time}."
    if channel == "sms":
        return f"{text} Reply C to confirm, R to reschedule."
    return f"{text} To confirm or change it, contact the practice."


def _practice_name(practice_id) -> str:
    from confide.core.models import Practice

    return Practice.objects.filter(pk=practice_id).values_list("name", flat=True).first() or "your practice"


def choose_channel(practice_id, patient_id) -> str | None:
    """The patient's reminder preferences (MSG6) first: by text if they want it there and agreed
    to texts, else by e-mail if they want it there, else by text (the gate then records why not),
    else the portal; None when every channel is off."""
    from confide.consent.services import has_consent
    from confide.core.purposes import Purpose
    from confide.messaging.models import NotificationTopic
    from confide.messaging.preferences import get_preferences

    wanted = get_preferences(practice_id, patient_id)[NotificationTopic.REMINDERS]
    if wanted["sms"] and has_consent(practice_id, patient_id, Purpose.OPERATIONS, channel="sms"):
        return "sms"
    for channel in ("email", "sms", "portal"):
        if wanted[channel]:
            return channel
    return None


# --- sending -----------------------------------------------------------------------------------
def sweep(now: datetime.datetime | None = None) -> int:
    """Send every due reminder in every practice (each once); answers how many were handled."""
    from confide.core.models import Practice

    now = now or timezone.now()
    done = 0
    for practice_id in Practice.objects.values_list("pk", flat=True):
        with tenant_context(practice_id=practice_id):
            due = Reminder.objects.filter(
                Q(status=ReminderStatus.PLANNED) | Q(status=ReminderStatus.SENDING, claimed_until__lt=now), due_at__lte=now
            ).values_list("pk", flat=True)
            ids = list(due[:500])
        for reminder_id in ids:
            if send_due(reminder_id, practice_id, now=now) != "taken":
                done += 1
    return done


class _LostLease(Exception):
    """Another sweep took this reminder over (our lease ran out): roll our message back."""


def send_due(reminder_id, practice_id, *, now: datetime.datetime | None = None) -> str:
    """Claim one due reminder and send it; "taken" when another sweep has it (or it is not due)."""
    now = now or timezone.now()
    lease = now + LEASE
    with tenant_context(practice_id=practice_id):
        claimed = Reminder.objects.filter(
            Q(status=ReminderStatus.PLANNED) | Q(status=ReminderStatus.SENDING, claimed_until__lt=now), pk=reminder_id, due_at__lte=now
        ).update(status=ReminderStatus.SENDING, claimed_until=lease, updated_at=now)
        if not claimed:
            return "taken"
        try:
            with transaction.atomic():
                status = _send(reminder_id, practice_id, now, lease)
        except _LostLease:
            return "taken"
        except Exception as exc:  # noqa: BLE001 - one reminder's failure must not stop the sweep
            logger.warning("reminder %s failed: %s", reminder_id, type(exc).__name__)
            Reminder.objects.filter(pk=reminder_id, status=ReminderStatus.SENDING, claimed_until=lease).update(
                status=ReminderStatus.FAILED, outcome_code=ERROR, claimed_until=None, updated_at=timezone.now()
            )
            return ReminderStatus.FAILED.value
    logger.info("reminder %s %s", reminder_id, status)
    return status


def _finish(reminder_id, lease, **changes) -> str:
    updated = Reminder.objects.filter(pk=reminder_id, status=ReminderStatus.SENDING, claimed_until=lease).update(
        claimed_until=None, updated_at=timezone.now(), **changes
    )
    if not updated:
        raise _LostLease()
    return changes["status"]


def _send(reminder_id, practice_id, now, lease) -> str:
    from confide.access.door import REMINDER_JOB
    from confide.messaging.models import Status as MessageStatus
    from confide.messaging.models import Topic
    from confide.messaging.services import send_message
    from confide.scheduling.clock import practice_zone

    reminder = Reminder.objects.select_related("appointment").get(pk=reminder_id)
    appointment = reminder.appointment
    if appointment.status not in REMINDED:
        return _finish(reminder_id, lease, status=ReminderStatus.CANCELLED, outcome_code=f"appointment-{appointment.status}"[:32])
    if appointment.starts_at - datetime.timedelta(minutes=reminder.offset_minutes) != reminder.due_at:
        return _finish(reminder_id, lease, status=ReminderStatus.CANCELLED, outcome_code=MOVED)
    if appointment.starts_at <= now:
        return _finish(reminder_id, lease, status=ReminderStatus.SKIPPED, outcome_code=PAST)
    channel = choose_channel(practice_id, appointment.patient_id)
    if channel is None:
        return _finish(reminder_id, lease, status=ReminderStatus.SKIPPED, outcome_code=NO_CHANNEL)
    body = reminder_text(_practice_name(practice_id), appointment.starts_at, practice_zone(practice_id), channel)
    message = send_message(
        REMINDER_JOB.for_practice(practice_id), patient_id=appointment.patient_id, channel=channel, topic=Topic.REMINDER,
        body=body, subject_key=f"appointment:{appointment.pk}",
    )  # fmt: skip
    changes = {"channel": channel, "message_id": message.pk}
    if message.status == MessageStatus.REFUSED:
        return _finish(reminder_id, lease, status=ReminderStatus.REFUSED, outcome_code=message.refusal_code[:32], **changes)
    if message.status == MessageStatus.DEFERRED and message.send_after and message.send_after >= appointment.starts_at:
        # A reminder after the start is no reminder: its message is refused on record, never sent.
        from confide.messaging.models import Message

        Message.objects.filter(pk=message.pk, status=MessageStatus.DEFERRED).update(
            status=MessageStatus.REFUSED, refusal_code="reminder-too-late",
            refusal_reason="Held by the gate until after the appointment's start: not sent.",
        )  # fmt: skip
        return _finish(reminder_id, lease, status=ReminderStatus.SKIPPED, outcome_code=message.refusal_code[:32], **changes)
    return _finish(reminder_id, lease, status=ReminderStatus.SENT, sent_at=now, outcome_code=message.refusal_code[:32], **changes)


# --- replies -----------------------------------------------------------------------------------
_TRAILING = re.compile(r"[\s.!?,;:…'\"()]+$")


def reply_word(body: str) -> str | None:
    """"confirmed", "reschedule" or None: strict whole-text match (see the module's docstring)."""
    text = unicodedata.normalize("NFKC", body or "").strip()
    word = _TRAILING.sub("", text).strip().upper()
    if word in CONFIRM_WORDS:
        return ReminderReply.CONFIRMED.value
    if word in RESCHEDULE_WORDS:
        return ReminderReply.RESCHEDULE.value
    return None


def answered_reminder(patient_id, now) -> Reminder | None:
    return (
        Reminder.objects.select_related("appointment")
        .filter(appointment__patient_id=patient_id, status=ReminderStatus.SENT, sent_at__gte=now - REPLY_WINDOW,
                appointment__starts_at__gt=now, appointment__status__in=REMINDED)  # fmt: skip
        .order_by("appointment__starts_at", "-sent_at")
        .first()
    )


def handle_reply(*, practice_id, patient_id, body, message, reply_to="", request=None) -> str:
    """messaging's inbound reply handler: "" when the text is not an answer to a reminder."""
    word = reply_word(body)
    if word is None:
        return ""
    now = timezone.now()
    reminder = answered_reminder(patient_id, now)
    if reminder is None:
        return ""
    appointment = reminder.appointment
    if word == ReminderReply.CONFIRMED:
        _confirm(appointment, request=request)
    else:
        _reschedule_requested(appointment, message, now, request=request)
    first = Reminder.objects.filter(pk=reminder.pk, reply="").update(reply=word, replied_at=now, updated_at=now)
    if first:  # one automatic reply per reminder, through the gate
        _reply(practice_id, appointment, message, word)
    return word


def _confirm(appointment: Appointment, *, request=None) -> None:
    from confide.access.door import REMINDER_JOB
    from confide.scheduling.services import ChangedMeanwhile, set_status

    job = REMINDER_JOB.for_practice(appointment.practice_id)
    for _ in range(3):  # a staff change meanwhile: read the row again and confirm that version
        current = Appointment.objects.get(pk=appointment.pk)
        if current.status != Status.BOOKED:
            return  # confirmed already (or no longer remindable: nothing to confirm)
        try:
            set_status(job, current.pk, Status.CONFIRMED, version=current.version, request=request)
            return
        except ChangedMeanwhile:
            continue


def _reschedule_requested(appointment: Appointment, message, now, *, request=None) -> None:
    from confide.audit.chain import record, system_actor
    from confide.audit.events import AuditEvent
    from confide.messaging.inbound import flag_thread

    Appointment.objects.filter(pk=appointment.pk, reschedule_requested_at__isnull=True).update(
        reschedule_requested_at=now, version=F("version") + 1, updated_at=now
    )
    record(
        AuditEvent.APPOINTMENT_CHANGED, practice_id=appointment.practice_id, actor=system_actor("reminder-job"), purpose="operations",
        subject_id=appointment.patient_id, resource_ids=[appointment.pk], categories=["scheduling.appointments"],
        fields_changed=["reschedule_requested_at"], detail={"change": "reschedule-requested"}, request=request,
    )  # fmt: skip
    flag_thread(message, "reschedule", request=request)


def _reply(practice_id, appointment: Appointment, message, word: str) -> None:
    from confide.access.door import REMINDER_JOB
    from confide.messaging.models import Thread, Topic
    from confide.messaging.services import send_message
    from confide.scheduling.clock import practice_zone

    if word == ReminderReply.CONFIRMED:
        day, time = when_words(appointment.starts_at, practice_zone(practice_id))
        text = f"Thanks, your appointment on {day} at {time} is confirmed."
    else:
        text = "We will contact you to find a new time."
    text = f"{_practice_name(practice_id)}: {text}"
    send_message(REMINDER_JOB.for_practice(practice_id), patient_id=appointment.patient_id, channel="sms", topic=Topic.REMINDER,
                 body=text, thread=Thread.objects.get(pk=message.thread_id), subject_key=f"appointment:{appointment.pk}")  # fmt: skip


# --- the appointment page ------------------------------------------------------------------------
GATE_WORDS = {
    "consent-sms": "no consent to texts",
    "no-address": "no number or address to send to",
    "preference": "the patient turned these reminders off for that channel",
    "opted-out": "the number replied STOP",
    "egress": "the privacy declaration does not allow it",
    "content-payment": "payment details",
    "quiet-hours": "quiet hours until after the appointment",
    "subject-cap": "the state's limit of texts on one subject until after the appointment",
    "rate-patient": "the daily limit until after the appointment",
    "rate-practice": "the practice's sending limit until after the appointment",
    PAST: "its time had passed when the appointment was booked",
    MOVED: "the appointment was moved",
    APPOINTMENT_CANCELLED: "the appointment was cancelled",
    NO_CHANNEL: "the patient turned reminders off",
    ERROR: "an error (see the server log)",
}
CHANNEL_WORDS = {"sms": "text", "email": "e-mail", "portal": "the portal"}


@dataclass(frozen=True)
class ReminderRow:
    when: str  # "Tuesday, March 9 at 10:00 AM EST"
    offset: str  # "48 hours before"
    outcome: str  # "Sent by text at 10:02 AM EST", "Not sent: no consent to texts", …
    reply: str  # "Confirmed (C)", ""


def _offset_words(minutes: int) -> str:
    if minutes % 1440 == 0 and minutes >= 2880:
        return f"{minutes // 1440} days before"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''} before"
    return f"{minutes} minutes before"


def _outcome_words(row: Reminder, message_status: str, zone) -> str:
    code = row.outcome_code
    why = GATE_WORDS.get(code, code.replace("-", " ") if code else "")
    if row.status == ReminderStatus.PLANNED:
        return "Planned"
    if row.status == ReminderStatus.SENDING:
        return "Sending"
    if row.status == ReminderStatus.SENT:
        day, time = when_words(row.sent_at, zone)
        by = CHANNEL_WORDS.get(row.channel, row.channel)
        if message_status in ("failed", "undelivered"):
            return f"Sent by {by} at {time}; the carrier could not deliver it"
        if message_status == "refused":
            return f"Not sent by {by}: refused at the moment of sending"
        if message_status == "deferred":
            return f"Waiting for the allowed hours, by {by}"
        return f"Sent by {by} at {time}"
    if row.status == ReminderStatus.REFUSED:
        return f"Not sent: {why}"
    if row.status == ReminderStatus.SKIPPED:
        return f"Skipped: {why}"
    if row.status == ReminderStatus.CANCELLED:
        return f"Cancelled: {why}"
    return f"Failed: {why}"


def reminder_rows(appointment: Appointment) -> list[ReminderRow]:
    """The appointment's reminders in words (ids, times and codes only: no PHI beyond the
    appointment's own). Call inside the practice's tenant context."""
    from confide.messaging.models import Message
    from confide.scheduling.clock import practice_zone

    zone = practice_zone(appointment.practice_id)
    rows = list(Reminder.objects.filter(appointment_id=appointment.pk).order_by("due_at", "created_at"))
    statuses = dict(Message.objects.filter(pk__in=[r.message_id for r in rows if r.message_id]).values_list("pk", "status"))
    out = []
    for row in rows:
        day, time = when_words(row.due_at, zone)
        out.append(ReminderRow(
            when=f"{day} at {time}", offset=_offset_words(row.offset_minutes),
            outcome=_outcome_words(row, statuses.get(row.message_id, ""), zone),
            reply=ReminderReply(row.reply).label if row.reply else "",
        ))  # fmt: skip
    return out
